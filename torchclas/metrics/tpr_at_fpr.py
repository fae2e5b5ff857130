"""PaddleClas's ``TprAtFpr``: the best true-positive rate of a binary classifier among the
thresholds whose false-positive rate stays at or under ``max_fpr`` (the PULC "exists" tasks)."""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch

from .topk import main_logits

__all__ = ["TprAtFpr", "THRESHOLDS"]

log = logging.getLogger("torchclas")

# PaddleClas tries the thresholds i / 10000, i = 0..9999, comparing float32 scores with them
# (numpy casts the Python float to the array's float32).
THRESHOLDS = (torch.arange(10_000, dtype=torch.float64) / 10_000).to(torch.float32)
_BINS = len(THRESHOLDS) + 1


class TprAtFpr:
    """TPR at ``FPR <= max_fpr``, over the thresholds PaddleClas tries (``i / 10000``).

    The score of an image is the softmax probability of class 1; label 0 is the negative class
    and every other label positive (as PaddleClas: with ``class_num`` 3, labels 1 and 2 are
    positives scored by class 1's probability). A threshold ``t`` calls an image positive when
    its score is ``> t``. ``compute()`` gives ``tpr`` (the highest TPR among the thresholds
    with FPR <= ``max_fpr``, 0 when none has a TPR above 0), ``threshold`` (the smallest
    threshold reaching it) and ``fpr`` (its FPR); ``threshold``/``fpr`` are None when ``tpr``
    is 0. ``best_key`` is ``tpr``: PaddleClas keeps its best model by it.

    Without negative images the FPR is undefined: as PaddleClas, every threshold qualifies, the
    result is threshold 0 with ``fpr`` 0, and a warning asks for negatives. Without positive
    images ``tpr`` is 0 (a warning says why).

    Instead of every score it keeps, per class (negative/positive), how many scores fall between
    consecutive thresholds (10 001 counts): the rates at the thresholds are exact, memory stays
    fixed, and processes combine their counts by summing (``all_reduce``) as `TopkAcc` does.

    Args:
        max_fpr: the largest false-positive rate allowed (PaddleClas default 1/1000).

    Example:
        >>> metric = TprAtFpr(max_fpr=0.5)
        >>> logits = torch.tensor([[0.0, 2.0], [0.0, -2.0], [0.0, 1.0], [0.0, 0.5]])
        >>> metric.update(logits, torch.tensor([1, 1, 0, 0]))
        >>> result = metric.compute()
        >>> result["tpr"], result["fpr"], result["threshold"]
        (0.5, 0.5, 0.6225)
    """

    eval_only = True  # its state is not TopkAcc's running sums that a mid-epoch checkpoint keeps

    def __init__(self, max_fpr: float = 1 / 1000.):
        if not 0 <= float(max_fpr) <= 1:
            raise ValueError(f"TprAtFpr.max_fpr must be in [0, 1], got {max_fpr}")
        self.max_fpr = float(max_fpr)
        self.best_key = "tpr"
        self.reset()

    def reset(self) -> None:
        """Forget all batches seen."""
        self.negatives = torch.zeros(_BINS, dtype=torch.int64)
        self.positives = torch.zeros(_BINS, dtype=torch.int64)

    def update(self, outputs: Any, batch: Any) -> None:
        """Add one batch: logits ``[B, C]`` (C >= 2; or a dict holding them under ``"logits"``)
        and a batch (its ``labels``) or the labels, integer ``[B]`` or soft ``[B, C]`` (counted
        as their largest class)."""
        outputs = main_logits(outputs, "TprAtFpr")
        if outputs.ndim != 2 or outputs.shape[-1] < 2:
            raise ValueError(f"TprAtFpr scores class 1 of [batch, class_num >= 2] logits; got shape "
                             f"{tuple(outputs.shape)}")
        labels = getattr(batch, "labels", batch)
        if labels.ndim == 2:
            labels = labels.argmax(dim=-1)
        scores = torch.softmax(outputs.detach().float(), dim=-1)[:, 1].contiguous().cpu()
        # a score's bin: how many thresholds lie below it, so "score > THRESHOLDS[i]" is "bin > i"
        bins = torch.searchsorted(THRESHOLDS, scores, side="left")
        negative = labels.reshape(-1).cpu() == 0
        self.negatives += torch.bincount(bins[negative], minlength=_BINS)
        self.positives += torch.bincount(bins[~negative], minlength=_BINS)

    def compute(self) -> dict[str, float | None]:
        """``{"tpr", "threshold", "fpr"}`` as PaddleClas's ``avg``/``avg_info`` report them."""
        n_pos, n_neg = int(self.positives.sum()), int(self.negatives.sum())
        none = {"tpr": 0.0, "threshold": None, "fpr": None}
        if n_pos == 0:
            log.warning("TprAtFpr: no positive (label != 0) image was evaluated; tpr is 0")
            return none
        tpr = _above(self.positives) / n_pos
        if n_neg == 0:
            log.warning("TprAtFpr: no negative (label 0) image was evaluated; the FPR is undefined, so every "
                        "threshold passes (as PaddleClas): add negative images")
            fpr, allowed = torch.zeros_like(tpr), torch.ones_like(tpr, dtype=torch.bool)
        else:
            fpr = _above(self.negatives) / n_neg
            allowed = fpr <= self.max_fpr
        candidates = torch.where(allowed, tpr, torch.zeros_like(tpr))
        best = int(candidates.argmax())  # the first (smallest) threshold reaching the maximum
        if float(candidates[best]) <= 0:
            return none
        return {"tpr": float(tpr[best]), "threshold": best / 10_000, "fpr": float(fpr[best])}

    def state_dict(self) -> dict[str, list[int]]:
        """The counts per threshold bin: ``{"negatives": [...], "positives": [...]}``."""
        return {"negatives": self.negatives.tolist(), "positives": self.positives.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()``'s counts."""
        self.reset()
        for key in ("negatives", "positives"):
            if key in state:
                getattr(self, key).copy_(torch.as_tensor(state[key], dtype=torch.int64))

    def all_reduce(self, reduce: Callable[[list[float]], list[float]]) -> None:
        """Replace the counts by ``reduce`` of them (their sum over processes)."""
        sums = torch.tensor(reduce([*self.negatives.tolist(), *self.positives.tolist()]), dtype=torch.float64)
        self.negatives, self.positives = (part.clone() for part in sums.round().to(torch.int64).split(_BINS))


def _above(counts: torch.Tensor) -> torch.Tensor:
    """How many scores lie above each threshold (float64 ``[10000]``) from the bin counts."""
    return (counts.sum() - counts.cumsum(0)[:-1]).to(torch.float64)
