"""``MixupCutmixHybrid``: timm's ``Mixup`` (Mixup or CutMix, switched at random, with label
smoothing), as PaddleClas's DeiT/CAE-style configs write it::

    batch_transform_ops:
      - MixupCutmixHybrid:
          mixup_alpha: 0.8
          cutmix_alpha: 1.0
          switch_prob: 0.5
          num_classes: 1000

Each image ``i`` mixes with image ``N - 1 - i`` (the batch flipped), as in timm. ``mode`` says
what shares one draw: the whole ``batch``, each ``pair`` ``(i, N - 1 - i)``, or each ``elem``ent.
An odd batch's middle image pairs with itself (timm and PaddleClas refuse odd batches; the last
batch of an epoch may be odd here). Every draw comes from torch's default generator.
"""

from __future__ import annotations

import math

import torch

from .augment import number
from .batch_base import BatchOperator, blend

__all__ = ["MixupCutmixHybrid"]

Box = tuple[int, int, int, int]


class MixupCutmixHybrid(BatchOperator):
    """Mixup or CutMix per batch, pair or image, then label smoothing (timm ``Mixup``).

    With probability ``prob`` a draw mixes: CutMix with probability ``switch_prob`` when both
    alphas are > 0 (only the one whose alpha is > 0 otherwise), ``lam ~ Beta(alpha, alpha)``.
    CutMix pastes a box of ``1 - lam`` of the area from the partner (``cutmix_minmax``: a box
    whose sides are uniform in ``[min, max]`` of the image's instead); with ``correct_lam`` (or
    ``cutmix_minmax``) ``lam`` becomes the exact unpasted share after clipping. Targets are
    ``lam * s(y) + (1 - lam) * s(y_partner)``, ``s(y) = (1 - label_smoothing) * y + label_smoothing / C``.

    Args:
        class_num: number of classes (filled in by the DataLoader from ``Arch.class_num``).
        mixup_alpha: Mixup's Beta parameter; Mixup is on when > 0 (default 1.0).
        cutmix_alpha: CutMix's Beta parameter; CutMix is on when > 0 (default 0.0).
        cutmix_minmax: ``[min, max]`` box side ratios; turns CutMix on with ``cutmix_alpha`` 1.0.
        prob: probability that a draw mixes at all (default 1.0).
        switch_prob: probability of CutMix rather than Mixup when both are on (default 0.5).
        mode: ``batch`` (default), ``pair`` or ``elem``.
        correct_lam: recompute CutMix's ``lam`` from the clipped box (default true).
        label_smoothing: applied to the targets before mixing, in [0, 1) (default 0.1).
        num_classes: PaddleClas's name for the number of classes; must equal ``class_num``
            when both are given (default: ``class_num``).

    Example:
        >>> op = MixupCutmixHybrid(class_num=3, mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.0)
        >>> images, targets = op(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
        >>> images.shape, bool(torch.allclose(targets.sum(1), torch.ones(4)))
        (torch.Size([4, 3, 8, 8]), True)
    """

    name = "MixupCutmixHybrid"
    MODES = ("batch", "pair", "elem")

    def __init__(self, class_num=None, mixup_alpha=1.0, cutmix_alpha=0.0, cutmix_minmax=None, prob=1.0,
                 switch_prob=0.5, mode="batch", correct_lam=True, label_smoothing=0.1, num_classes=None):
        if class_num is not None and num_classes is not None and class_num != num_classes:
            raise ValueError(f"{self.name}: num_classes {num_classes!r} differs from class_num {class_num} "
                             "(Arch.class_num): the targets need one column per model output")
        super().__init__(class_num if class_num is not None else num_classes)
        self.mixup_alpha = number(mixup_alpha, self.name, "mixup_alpha", 0)
        self.cutmix_alpha = number(cutmix_alpha, self.name, "cutmix_alpha", 0)
        self.cutmix_minmax = self._minmax(cutmix_minmax)
        if self.cutmix_minmax is not None:
            self.cutmix_alpha = 1.0  # as timm: the box comes from minmax, alpha only picks mix/no mix
        if self.mixup_alpha == 0 and self.cutmix_alpha == 0:
            raise ValueError(f"{self.name}: set mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax")
        self.prob = number(prob, self.name, "prob", 0, 1)
        self.switch_prob = number(switch_prob, self.name, "switch_prob", 0, 1)
        if mode not in self.MODES:
            raise ValueError(f"{self.name}: mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        self.mode = mode
        if not isinstance(correct_lam, bool):
            raise ValueError(f"{self.name}: correct_lam must be true or false, got {correct_lam!r}")
        self.correct_lam = correct_lam
        self.label_smoothing = number(label_smoothing, self.name, "label_smoothing", 0, 1)
        if self.label_smoothing == 1:
            raise ValueError(f"{self.name}: label_smoothing must be below 1, got {label_smoothing!r}")

    def _minmax(self, value) -> tuple[float, float] | None:
        if value is None:
            return None
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                or not 0 < value[0] < value[1] <= 1):
            raise ValueError(f"{self.name}: cutmix_minmax must be [min, max] with 0 < min < max <= 1, got {value!r}")
        return float(value[0]), float(value[1])

    # ------------------------------------------------------------------ draws

    def _draws(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lam [count] float64, use_cutmix [count] bool)``; ``lam`` is 1 where nothing mixes."""
        use_cutmix = torch.zeros(count, dtype=torch.bool)
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            use_cutmix = torch.rand(count) < self.switch_prob
            lam_mix = torch.where(use_cutmix, _betas(self.cutmix_alpha, count), _betas(self.mixup_alpha, count))
        elif self.mixup_alpha > 0:
            lam_mix = _betas(self.mixup_alpha, count)
        else:
            use_cutmix = torch.ones(count, dtype=torch.bool)
            lam_mix = _betas(self.cutmix_alpha, count)
        mixes = torch.rand(count) < self.prob
        return torch.where(mixes, lam_mix, torch.ones(count, dtype=torch.float64)), use_cutmix & mixes

    def box(self, height: int, width: int, lam: float) -> tuple[Box, float]:
        """A CutMix box ``(y1, y2, x1, x2)`` and the ``lam`` it leaves (corrected as configured)."""
        if self.cutmix_minmax is not None:
            low, high = self.cutmix_minmax
            cut_h = _randint(int(height * low), int(height * high))
            cut_w = _randint(int(width * low), int(width * high))
            y1, x1 = _randint(0, height - cut_h), _randint(0, width - cut_w)
            y2, x2 = y1 + cut_h, x1 + cut_w
        else:
            ratio = math.sqrt(1.0 - lam)
            cut_h, cut_w = int(height * ratio), int(width * ratio)
            cy, cx = _randint(0, height), _randint(0, width)
            y1, y2 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
            x1, x2 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
        if self.correct_lam or self.cutmix_minmax is not None:
            lam = 1.0 - (y2 - y1) * (x2 - x1) / (height * width)
        return (y1, y2, x1, x2), lam

    # ------------------------------------------------------------------ mixing

    def _mix_batch(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lam_t, use_cutmix = self._draws(1)
        lam = float(lam_t[0])
        if lam == 1.0:
            return images, torch.ones(len(images), 1)
        partner = images.flip(0)
        if bool(use_cutmix[0]):
            (y1, y2, x1, x2), lam = self.box(*images.shape[-2:], lam)
            mixed = images.clone()
            mixed[..., y1:y2, x1:x2] = partner[..., y1:y2, x1:x2]
        else:
            mixed = blend(images, partner, lam)
        return mixed, torch.full((len(images), 1), lam)

    def _mix_each(self, images: torch.Tensor, pairs: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """``elem`` (each image its own draw) or ``pair`` (``i`` and ``N - 1 - i`` share one)."""
        count = len(images)
        lams, use_cutmix = self._draws(count // 2 if pairs else count)
        lams = lams.tolist()
        mixed = images.clone()
        for i, lam in enumerate(lams):
            if lam == 1.0:
                continue
            j = count - 1 - i
            if bool(use_cutmix[i]):
                (y1, y2, x1, x2), lams[i] = self.box(*images.shape[-2:], lam)
                mixed[i, :, y1:y2, x1:x2] = images[j, :, y1:y2, x1:x2]
                if pairs:
                    mixed[j, :, y1:y2, x1:x2] = images[i, :, y1:y2, x1:x2]
            else:
                mixed[i] = blend(images[i], images[j], lam)
                if pairs:
                    mixed[j] = blend(images[j], images[i], lam)
        if pairs:
            lams = lams + [1.0] * (count % 2) + lams[::-1]
        return mixed, torch.tensor(lams, dtype=torch.float32)[:, None]

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        smoothed = self.targets(labels) * (1 - self.label_smoothing) + self.label_smoothing / self.class_num
        if self.mode == "batch":
            mixed, lam = self._mix_batch(images)
        else:
            mixed, lam = self._mix_each(images, pairs=self.mode == "pair")
        return mixed, lam * smoothed + (1 - lam) * smoothed.flip(0)


def _betas(alpha: float, count: int) -> torch.Tensor:
    concentration = torch.tensor(alpha, dtype=torch.float64)
    return torch.distributions.Beta(concentration, concentration).sample((count,))


def _randint(low: int, high: int) -> int:
    """A uniform integer in ``[low, high)``; ``low`` when the range is empty (a tiny image)."""
    return low if high <= low else int(torch.randint(low, high, ()))
