"""The base of batch ops (`BatchOperator`: labels to soft targets) and the draws and blends
they share (`beta_sample`, `blend`); `batch_ops`, `fmix` and `mix_hybrid` build on it."""

from __future__ import annotations

import torch

__all__ = ["BatchOperator", "beta_sample", "blend"]


class BatchOperator:
    """Base of batch ops: ``op(images [N, C, H, W], labels) -> (images, targets [N, class_num])``.

    ``labels`` may be integer ``[N]`` or already soft ``[N, class_num]`` (a previous batch op's).

    Args:
        class_num: number of classes; the DataLoader passes the config's ``class_num``.
    """

    name = "BatchOperator"

    def __init__(self, class_num=None):
        if class_num is None:
            raise ValueError(f"{self.name} needs class_num (the number of classes): set Arch.class_num in "
                             "the config, or pass build_dataloader(..., class_num=N)")
        if isinstance(class_num, bool) or not isinstance(class_num, int) or class_num < 1:
            raise ValueError(f"{self.name}: class_num must be a positive integer, got {class_num!r}")
        self.class_num = class_num

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels as float32 soft targets ``[N, class_num]`` (one-hot for integer labels)."""
        if labels.ndim == 2:
            if labels.shape[1] != self.class_num:
                raise ValueError(f"{self.name}: soft labels have {labels.shape[1]} classes, "
                                 f"class_num is {self.class_num}")
            return labels.to(torch.float32)
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.class_num):
            bad = int(labels.max()) if int(labels.max()) >= self.class_num else int(labels.min())
            raise ValueError(f"{self.name}: label {bad} is outside 0..{self.class_num - 1} "
                             f"(class_num {self.class_num}); check Arch.class_num")
        return torch.nn.functional.one_hot(labels.long(), self.class_num).to(torch.float32)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return images, self.targets(labels)


def beta_sample(alpha: float, beta: float | None = None) -> float:
    """One draw of ``Beta(alpha, beta)`` (``beta`` defaults to ``alpha``) from torch's generator."""
    first = torch.tensor(alpha, dtype=torch.float64)
    second = first if beta is None else torch.tensor(beta, dtype=torch.float64)
    return float(torch.distributions.Beta(first, second).sample())


def blend(a: torch.Tensor, b: torch.Tensor, lam: float | torch.Tensor) -> torch.Tensor:
    """``lam * a + (1 - lam) * b`` in ``a``'s dtype (rounded for integer images); ``lam`` a
    number or a tensor that broadcasts against the images (a mask, or one weight per image)."""
    if a.dtype.is_floating_point:
        return lam * a + (1 - lam) * b
    mixed = lam * a.to(torch.float32) + (1 - lam) * b.to(torch.float32)
    return mixed.round().clamp(torch.iinfo(a.dtype).min, torch.iinfo(a.dtype).max).to(a.dtype)
