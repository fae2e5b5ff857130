"""FMix (Harris et al. 2020, https://arxiv.org/abs/2002.12047): mix two images through a binary
mask cut from low-frequency noise, so the pasted region is one or a few smooth blobs.

PaddleClas's ``FmixOperator`` (``ppcls/data/preprocess/ops/fmix.py``, after ecs-vlc/FMix)::

    batch_transform_ops:
      - FmixOperator: {alpha: 1.0, decay_power: 3, max_soft: 0.0, reformulate: False}

One mask per batch: a random spectrum with amplitude ``1 / f ** decay_power`` is turned into an
image by an inverse FFT; its ``lam * H * W`` largest pixels become 1, the rest 0 (``max_soft``
softens the edge with a linear ramp), with ``lam ~ Beta(alpha, alpha)`` (``Beta(alpha + 1,
alpha)`` with ``reformulate``). Images become ``mask * x + (1 - mask) * x[perm]``. Every draw
comes from torch's default generator.
"""

from __future__ import annotations

import math

import torch

from .augment import number
from .batch_base import BatchOperator, beta_sample, blend

__all__ = ["FmixOperator", "low_freq_image", "binarise_mask", "sample_mask"]


def low_freq_image(height: int, width: int, decay_power: float) -> torch.Tensor:
    """A ``[height, width]`` float64 image of random noise whose spectrum decays as
    ``1 / f ** decay_power`` (frequencies below ``1 / max(height, width)`` held at that floor).

    Example:
        >>> low_freq_image(6, 5, 3.0).shape
        torch.Size([6, 5])
    """
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(width, dtype=torch.float64)[None, :]
    freqs = torch.sqrt(fx * fx + fy * fy)
    scale = 1.0 / freqs.clamp(min=1.0 / max(height, width)) ** decay_power
    param = torch.randn(height, fx.shape[1], 2, dtype=torch.float64)
    spectrum = torch.complex(scale * param[..., 0], scale * param[..., 1])
    return torch.fft.irfftn(spectrum, s=(height, width))


def binarise_mask(image: torch.Tensor, lam: float, max_soft: float = 0.0) -> torch.Tensor:
    """A float32 mask of ``image``'s shape: its ``num`` largest pixels 1, the others 0, where
    ``num`` is ``lam * size`` rounded up or down at random; with ``max_soft`` the
    ``2 * max_soft * size`` pixels around the threshold ramp linearly from 1 to 0 (``max_soft``
    is capped at ``min(lam, 1 - lam)``). The mask's mean is ``num / size``.

    Example:
        >>> mask = binarise_mask(torch.arange(10.0), 0.3)
        >>> mask.tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    flat = image.flatten()
    size = flat.numel()
    order = torch.argsort(flat, descending=True, stable=True)
    num = math.ceil(lam * size) if float(torch.rand(())) > 0.5 else math.floor(lam * size)
    soft = max_soft if max_soft <= min(lam, 1 - lam) else min(lam, 1 - lam)
    width = int(size * soft)
    low, high = max(num - width, 0), min(num + width, size)
    mask = torch.zeros(size, dtype=torch.float32)
    mask[order[:low]] = 1.0
    mask[order[low:high]] = torch.linspace(1.0, 0.0, high - low)
    return mask.reshape(image.shape)


def sample_mask(alpha: float, decay_power: float, height: int, width: int, max_soft: float = 0.0,
                reformulate: bool = False) -> torch.Tensor:
    """An FMix mask ``[height, width]`` (float32, values in [0, 1]) of mean about ``lam``,
    ``lam ~ Beta(alpha, alpha)`` (``Beta(alpha + 1, alpha)`` with ``reformulate``).

    Example:
        >>> _ = torch.manual_seed(0); mask = sample_mask(1.0, 3.0, 16, 16)
        >>> mask.shape, sorted(set(mask.flatten().tolist())) in ([0.0, 1.0], [0.0], [1.0])
        (torch.Size([16, 16]), True)
    """
    lam = beta_sample(alpha + 1, alpha) if reformulate else beta_sample(alpha)
    return binarise_mask(low_freq_image(height, width, decay_power), lam, max_soft)


class FmixOperator(BatchOperator):
    """FMix: every image takes a low-frequency blob of a random partner of the same batch.

    Targets are ``lam * y + (1 - lam) * y[perm]`` with ``lam`` the mask's mean, the share of
    the image each class really covers. (PaddleClas uses the Beta draw itself, which differs
    from the mask's mean by less than ``1 / (H * W)``.)

    Args:
        class_num: number of classes (filled in by the DataLoader).
        alpha: Beta parameter of ``lam``, > 0 (default 1).
        decay_power: how fast the mask's spectrum decays, > 0; larger gives smoother, fewer blobs (default 3).
        max_soft: soft-edge width as a share of the image, in [0, 0.5] (default 0: a binary mask).
        reformulate: draw ``lam ~ Beta(alpha + 1, alpha)`` (the paper's reformulation).

    Example:
        >>> images, targets = FmixOperator(class_num=3)(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
        >>> images.shape, targets.shape, bool(torch.allclose(targets.sum(1), torch.ones(4)))
        (torch.Size([4, 3, 8, 8]), torch.Size([4, 3]), True)
    """

    name = "FmixOperator"

    def __init__(self, class_num=None, alpha=1.0, decay_power=3.0, max_soft=0.0, reformulate=False):
        super().__init__(class_num)
        self.alpha = number(alpha, self.name, "alpha", 0)
        self.decay_power = number(decay_power, self.name, "decay_power", 0)
        if self.alpha == 0 or self.decay_power == 0:
            raise ValueError(f"{self.name}: alpha and decay_power must be > 0, got {alpha!r} and {decay_power!r}")
        self.max_soft = number(max_soft, self.name, "max_soft", 0, 0.5)
        if not isinstance(reformulate, bool):
            raise ValueError(f"{self.name}: reformulate must be true or false, got {reformulate!r}")
        self.reformulate = reformulate

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        targets = self.targets(labels)
        perm = torch.randperm(images.shape[0])
        height, width = images.shape[-2:]
        mask = sample_mask(self.alpha, self.decay_power, height, width, self.max_soft, self.reformulate)
        if images.dtype.is_floating_point:
            mask = mask.to(images.dtype)
        lam = float(mask.mean())
        return blend(images, images[perm], mask), lam * targets + (1 - lam) * targets[perm]
