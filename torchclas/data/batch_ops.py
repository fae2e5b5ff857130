"""PaddleClas batch ops (``DataLoader.Train.dataset.batch_transform_ops``): Mixup, CutMix, OpSampler
(FMix and MixupCutmixHybrid live in `fmix` and `mix_hybrid`).

They run in the DataLoader's collate function, on the stacked batch, after bad images are
dropped. They turn integer labels ``[N]`` into soft targets ``[N, class_num]`` (float32, rows
summing to 1), so a loader with batch ops always yields soft targets::

    batch_transform_ops:
      - OpSampler:
          MixupOperator: {alpha: 0.2, prob: 0.5}
          CutmixOperator: {alpha: 1.0, prob: 0.5}

Random draws come from torch's default generator, which the collate function seeds from the
batch's sample seeds, so batches do not depend on the number of workers. Their names are the table
`registry.BATCH_OPS`; `pipeline.check_batch_ops` and `pipeline.build_batch_ops` read the lists.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

from ..config.errors import closest
from ..config.registry import Registry
from .augment import number
from .batch_base import BatchOperator, beta_sample, blend
from .fmix import FmixOperator
from .mix_hybrid import MixupCutmixHybrid
from .op_lists import make_op

__all__ = ["BatchOperator", "MixupOperator", "CutmixOperator", "OpSampler", "BatchOps", "SAMPLED_OPS"]

logger = logging.getLogger(__name__)


class MixupOperator(BatchOperator):
    """Mixup (Zhang et al. 2018): each image blends with a random partner of the same batch.

    One ``lam ~ Beta(alpha, alpha)`` per batch; images become ``lam * x + (1 - lam) * x[perm]``
    and targets ``lam * y + (1 - lam) * y[perm]``.

    Args:
        class_num: number of classes (filled in by the DataLoader).
        alpha: Beta parameter, > 0 (default 1.0, as PaddleClas; 0.2 is common on ImageNet).

    Example:
        >>> images, targets = MixupOperator(class_num=3, alpha=0.2)(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]))
        >>> targets.shape, bool(torch.allclose(targets.sum(1), torch.ones(4)))
        (torch.Size([4, 3]), True)
    """

    name = "MixupOperator"

    def __init__(self, class_num=None, alpha=1.0):
        super().__init__(class_num)
        self.alpha = number(alpha, self.name, "alpha", 0)
        if self.alpha == 0:
            raise ValueError(f"{self.name}: alpha must be > 0, got {alpha!r}")

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        targets = self.targets(labels)
        lam = beta_sample(self.alpha)
        perm = torch.randperm(images.shape[0])
        return blend(images, images[perm], lam), lam * targets + (1 - lam) * targets[perm]


class CutmixOperator(MixupOperator):
    """CutMix (Yun et al. 2019): paste a box of a random partner image into each image.

    The box has side ``sqrt(1 - lam)`` of the image, ``lam ~ Beta(alpha, alpha)``, at a uniform
    random centre, clipped at the borders; ``lam`` is then recomputed from the clipped box
    (as PaddleClas and timm do), so each target's share of the pasted class is exactly the
    pasted area fraction.

    Args:
        class_num: number of classes (filled in by the DataLoader).
        alpha: Beta parameter, > 0 (default 0.2, as PaddleClas; 1.0 is common).
    """

    name = "CutmixOperator"

    def __init__(self, class_num=None, alpha=0.2):
        super().__init__(class_num, alpha)

    @staticmethod
    def box(height: int, width: int, lam: float) -> tuple[int, int, int, int]:
        """A random ``(y1, y2, x1, x2)`` box of about ``1 - lam`` of the area, clipped to the image."""
        cut = math.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * cut), int(width * cut)
        cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
        return (max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height),
                max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width))

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        targets = self.targets(labels)
        lam = beta_sample(self.alpha)
        perm = torch.randperm(images.shape[0])
        height, width = images.shape[-2:]
        y1, y2, x1, x2 = self.box(height, width, lam)
        mixed = images.clone()
        mixed[..., y1:y2, x1:x2] = images[perm][..., y1:y2, x1:x2]
        lam = 1.0 - (y2 - y1) * (x2 - x1) / (height * width)
        return mixed, lam * targets + (1 - lam) * targets[perm]


class OpSampler(BatchOperator):
    """Pick one batch op per batch with the given probabilities; the remaining probability is no op.

    Written as in PaddleClas, each op with its own ``prob``::

        OpSampler:
          MixupOperator: {alpha: 0.2, prob: 0.5}
          CutmixOperator: {alpha: 1.0, prob: 0.5}

    A batch that gets no op still gets one-hot soft targets, so every batch has the same format.

    Args:
        class_num: number of classes (filled in by the DataLoader).
        **op_dict: batch op name -> its parameters plus ``prob`` (probabilities sum to at most 1;
            a missing ``prob`` is 0, with a warning, as in PaddleClas).

    Example:
        >>> sampler = OpSampler(class_num=10, MixupOperator={"alpha": 0.2, "prob": 0.5})
        >>> [(type(op).__name__, p) for op, p in sampler.ops]
        [('MixupOperator', 0.5)]
    """

    name = "OpSampler"

    def __init__(self, class_num=None, **op_dict):
        super().__init__(class_num)
        self.ops: list[tuple[BatchOperator, float]] = []
        choices = sorted(set(SAMPLED_OPS) | SAMPLED_OPS.not_yet)
        for name, params in op_dict.items():
            if name not in choices:
                raise ValueError(f"OpSampler: '{name}' is not a batch op{closest(name, choices)}; "
                                 f"choose from {', '.join(choices)}")
            if name not in SAMPLED_OPS:
                raise ValueError(f"OpSampler: '{name}' is a PaddleClas batch op not implemented in torchclas yet")
            if params is not None and not isinstance(params, dict):
                raise ValueError(f"OpSampler.{name}: parameters must be a mapping, got {params!r}")
            params = dict(params or {})
            if "prob" not in params:
                logger.warning("OpSampler.%s has no 'prob'; it is set to 0 and never runs", name)
            prob = number(params.pop("prob", 0), "OpSampler", f"{name}.prob", 0, 1)
            self.ops.append((make_op(SAMPLED_OPS, f"OpSampler.{name}", name, params, class_num=class_num), prob))
        total = sum(p for _, p in self.ops)
        if total > 1 + 1e-9:
            raise ValueError(f"OpSampler: the probs of its ops sum to {total:g}, more than 1")

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        draw, edge = float(torch.rand(())), 0.0
        for op, prob in self.ops:
            edge += prob
            if draw < edge:
                return op(images, labels)
        return images, self.targets(labels)


class BatchOps:
    """Batch ops applied in order: ``BatchOps(ops)(images, labels) -> (images, soft targets)``."""

    def __init__(self, ops: list[Callable], class_num: int):
        self.ops, self.class_num = ops, class_num

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for op in self.ops:
            images, labels = op(images, labels)
        return images, labels


# The batch ops OpSampler picks from (every batch op but itself; registry.BATCH_OPS lists them all).
SAMPLED_OPS: Registry[type] = Registry("batch op", {
    "MixupOperator": MixupOperator,
    "CutmixOperator": CutmixOperator,
    "FmixOperator": FmixOperator,
    "MixupCutmixHybrid": MixupCutmixHybrid,
})
