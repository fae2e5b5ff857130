"""Per-class loss weights: checked lists, and ``auto`` weights from the training set's label counts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["class_weights_from_counts", "check_class_weights"]


def class_weights_from_counts(counts: Sequence[int]) -> list[float]:
    """Inverse-frequency weights ``w_c = K / (n_c * sum_k 1/n_k)``, what ``class_weights: auto`` means.

    ``n_c`` is the number of training samples of class ``c`` and ``K`` the number of classes with
    at least one sample, so the weights of those classes average 1 (a balanced set gets all 1s)
    and ``w_c * n_c`` is the same for every class. A class with no samples gets weight 0.

    Example:
        >>> [round(w, 3) for w in class_weights_from_counts([90, 9, 1])]
        [0.03, 0.297, 2.673]
    """
    if not counts or any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in counts):
        raise ValueError(f"class counts must be a non-empty list of integers >= 0, got {list(counts)!r}")
    present = [n for n in counts if n > 0]
    if not present:
        raise ValueError("class counts are all 0: the training set has no labelled samples")
    scale = len(present) / sum(1.0 / n for n in present)
    return [scale / n if n > 0 else 0.0 for n in counts]


def check_class_weights(value, owner: str, key: str = "class_weights") -> torch.Tensor | None:
    """``value`` (None or a list of numbers >= 0) as a float tensor; ``owner.key`` names it in errors.

    ``'auto'`` is refused here: `build_loss` replaces it with `class_weights_from_counts`.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value == "auto":
            raise ValueError(f"{owner}.{key}: 'auto' needs the training set's label counts; build "
                             "the loss with build_loss(entries, where, class_counts=label_counts(train_dataset))")
        raise ValueError(f"{owner}.{key}: expected 'auto' or a list of numbers, got {value!r}")
    if (not isinstance(value, (list, tuple)) or not value
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
        raise ValueError(f"{owner}.{key}: expected a list of numbers, one per class, got {value!r}")
    if any(not math.isfinite(v) or v < 0 for v in value) or not any(v > 0 for v in value):
        raise ValueError(f"{owner}.{key}: weights must be finite, >= 0 and not all 0, got {list(value)!r}")
    return torch.tensor([float(v) for v in value], dtype=torch.float32)
