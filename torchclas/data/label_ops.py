"""Ops that make the training label themselves, for PaddleClas's ``CustomLabelDataset``
(PULC clarity_assessment: ``BlurImage``; image_orientation: ``RandomRot90``).

The contract, for the dataset and the pipeline:

- A label op's call returns ``(image, {key: label})``: the key is the op's class attribute
  ``LABEL_KEY``, PaddleClas's name for it (``"blur_image"``, ``"random_rot90_orientation"``),
  which a ``CustomLabelDataset`` config names as ``dataset.label_key``; the label is an int.
- `pipeline.build_transforms` over a list holding label ops returns a `pipeline.LabelCompose`
  that gives ``(image, labels)``, ``labels`` a dict merging every label op's dict; the ops after a
  label op get the image only. ``CustomLabelDataset`` takes ``labels[label_key]`` as the sample's
  label; every other dataset (and inference) builds it with ``labels=False`` and gets the image
  alone, keeping its own label, as PaddleClas does. Lists without label ops give the image.
- `pipeline.label_keys(ops)` names the keys a list makes, so a config check can refuse a
  ``label_key`` that no op makes.

Example:
    >>> torch.manual_seed(0) is not None
    True
    >>> image, labels = RandomRot90()(torch.zeros(3, 4, 6, dtype=torch.uint8))
    >>> list(labels), labels["random_rot90_orientation"] in (0, 1, 2, 3)
    (['random_rot90_orientation'], True)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as nnf
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .augment import number, require_uint8

__all__ = ["BlurImage", "RandomRot90", "LABEL_OPS", "is_label_op"]


def _wrap(inpt: Any, out: torch.Tensor) -> Any:
    return tv_tensors.Image(out) if isinstance(inpt, tv_tensors.Image) else out


def _odd_sizes(max_ksize: Any, op: str, key: str) -> list[int]:
    """PaddleClas's ``np.arange(5, max_ksize, 2)``: the odd kernel sizes from 5 below ``max_ksize``."""
    if isinstance(max_ksize, bool) or not isinstance(max_ksize, int) or max_ksize < 6:
        raise ValueError(f"{op}: {key} must be an integer >= 6 (kernel sizes are 5, 7, ... below it), "
                         f"got {max_ksize!r}")
    return list(range(5, max_ksize, 2))


def _pick(values: list[int]) -> int:
    return values[int(torch.randint(len(values), ()))]


class BlurImage(v2.Transform):
    """With probability ``ratio`` blur the image (label 1), else leave it (label 0); returns
    ``(image, {"blur_image": label})`` (see the module docstring).

    The blur is, half the time each, as PaddleClas: a Gaussian blur with odd kernel sizes in
    5..``gaussian_max_ksize`` (x and y drawn apart; sigma from the size, as cv2), or a motion blur:
    a line of ``d`` ones (d odd in 5..``motion_max_ksize``) rotated by an integer angle in
    [-``motion_max_angle``, ``motion_max_angle``) about its centre, divided by ``d``, correlated with
    the image (reflected borders), then the result stretched to span 0..255.

    Example:
        >>> image, labels = BlurImage(ratio=1.0)(torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8))
        >>> labels
        {'blur_image': 1}
    """

    LABEL_KEY = "blur_image"

    def __init__(self, ratio=0.5, motion_max_ksize=12, motion_max_angle=45, gaussian_max_ksize=12):
        super().__init__()
        self.ratio = number(ratio, "BlurImage", "ratio", 0, 1)
        self.motion_sizes = _odd_sizes(motion_max_ksize, "BlurImage", "motion_max_ksize")
        self.gaussian_sizes = _odd_sizes(gaussian_max_ksize, "BlurImage", "gaussian_max_ksize")
        if isinstance(motion_max_angle, bool) or not isinstance(motion_max_angle, int) or motion_max_angle < 1:
            raise ValueError(f"BlurImage: motion_max_angle must be an integer >= 1, got {motion_max_angle!r}")
        self.motion_max_angle = motion_max_angle

    def forward(self, inpt: Any) -> tuple[Any, dict[str, int]]:
        require_uint8(inpt, "BlurImage")
        if float(torch.rand(())) > self.ratio:
            return inpt, {self.LABEL_KEY: 0}
        image = inpt.as_subclass(torch.Tensor)
        if float(torch.rand(())) < 0.5:
            sizes = [_pick(self.gaussian_sizes), _pick(self.gaussian_sizes)]
            self._check_size(image, max(sizes))
            out = F.gaussian_blur(image, sizes)
        else:
            size = _pick(self.motion_sizes)
            angle = int(torch.randint(-self.motion_max_angle, self.motion_max_angle, ()))
            self._check_size(image, size)
            out = motion_blur(image, size, angle)
        return _wrap(inpt, out), {self.LABEL_KEY: 1}

    @staticmethod
    def _check_size(image: torch.Tensor, ksize: int) -> None:
        if min(image.shape[-2:]) <= ksize // 2:
            raise ValueError(f"BlurImage: a {image.shape[-1]}x{image.shape[-2]} image is too small for a "
                             f"{ksize}-pixel kernel; put BlurImage before the ops that shrink it")


def motion_kernel(size: int, angle: float) -> torch.Tensor:
    """The ``size`` x ``size`` motion-blur kernel: a diagonal line of ones rotated by ``angle``
    degrees (counter-clockwise, bilinear) and divided by ``size``.

    Example:
        >>> motion_kernel(5, 0).diagonal().tolist()
        [0.20000000298023224, 0.20000000298023224, 0.20000000298023224, 0.20000000298023224, 0.20000000298023224]
    """
    line = torch.eye(size, dtype=torch.float32).unsqueeze(0)
    return F.rotate(line, float(angle), interpolation=InterpolationMode.BILINEAR)[0] / size


def motion_blur(image: torch.Tensor, size: int, angle: float) -> torch.Tensor:
    """A uint8 CHW image correlated with `motion_kernel` (reflected borders), rounded to uint8, then
    stretched min..max -> 0..255 over all channels (cv2.normalize NORM_MINMAX; a flat image becomes 0)."""
    channels = image.shape[-3]
    kernel = motion_kernel(size, angle).to(image.device).expand(channels, 1, size, size)
    pad = size // 2
    padded = nnf.pad(image.to(torch.float32).unsqueeze(0), (pad, pad, pad, pad), mode="reflect")
    blurred = nnf.conv2d(padded, kernel, groups=channels)[0].round().clamp(0, 255)
    low, high = blurred.min(), blurred.max()
    if high - low < 1e-12:
        return torch.zeros_like(image)
    return ((blurred - low) * (255.0 / (high - low))).round().to(torch.uint8)


class RandomRot90(v2.Transform):
    """Rotate by ``k`` x 90 degrees counter-clockwise, ``k`` uniform in 0..3, and return
    ``(image, {"random_rot90_orientation": k})`` (see the module docstring). Works on uint8 or
    float images (PaddleClas puts it after ``NormalizeImage``); a non-square image swaps H and W
    for odd ``k``.

    Example:
        >>> img = torch.zeros(1, 3, 3); img[0, 0, 2] = 1  # top-right
        >>> out = F.rotate(img, 90)  # what k=1 does
        >>> torch.equal(torch.rot90(img, 1, dims=(-2, -1)), out)
        True
    """

    LABEL_KEY = "random_rot90_orientation"
    COMMUTES_WITH_NORMALIZE = True  # it only moves pixels: a late NormalizeImage may follow it

    def forward(self, inpt: Any) -> tuple[Any, dict[str, int]]:
        k = int(torch.randint(4, ()))
        out = torch.rot90(inpt.as_subclass(torch.Tensor), k, dims=(-2, -1)) if k else inpt
        return (_wrap(inpt, out) if k else inpt), {self.LABEL_KEY: k}


LABEL_OPS: tuple[type, ...] = (BlurImage, RandomRot90)


def is_label_op(op: Any) -> bool:
    """True for an op whose call returns ``(image, {key: label})``."""
    return isinstance(op, LABEL_OPS)
