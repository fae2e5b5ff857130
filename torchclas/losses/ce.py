"""Cross entropy under PaddleClas names: ``CELoss``, ``MixCELoss`` and the hard-example ``OHEMCELoss``.

Every loss here reduces the same way. With targets ``q`` (one-hot or soft rows, smoothed by
``epsilon``) and class weights ``w`` (all 1 when none are given), sample ``i`` contributes
``l_i = -sum_c w_c q_ic log p_ic`` and the loss is ``sum_i l_i / sum_i n_i`` with
``n_i = sum_c w_c q_ic``. Without class weights ``n_i = 1`` (the batch mean); with them and hard
labels this is PyTorch's ``cross_entropy(weight=...)`` mean.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .class_weights import check_class_weights

__all__ = ["CELoss", "MixCELoss", "OHEMCELoss", "target_rows"]


def target_rows(logits: torch.Tensor, target: torch.Tensor, epsilon: float = 0.0) -> torch.Tensor:
    """Targets as float rows ``[B, C]``: hard labels one-hot, soft rows as given; then smoothed."""
    n_class = logits.shape[-1]
    rows = target.float() if target.ndim == logits.ndim else F.one_hot(target, n_class).float()
    if epsilon:
        rows = rows * (1 - epsilon) + epsilon / n_class
    return rows


def weights_for(class_weights: torch.Tensor | None, logits: torch.Tensor, owner: str) -> torch.Tensor | None:
    """``class_weights`` on the device of ``logits``, after checking there is one per class."""
    if class_weights is None:
        return None
    if class_weights.numel() != logits.shape[-1]:
        raise ValueError(f"{owner}.class_weights has {class_weights.numel()} values but the model "
                         f"predicts {logits.shape[-1]} classes")
    return class_weights.to(logits.device)


class CELoss(nn.Module):
    """Cross entropy with optional label smoothing (``epsilon``) and class weights, PaddleClas ``CELoss``.

    Hard integer labels without class weights use ``F.cross_entropy(label_smoothing=epsilon)``.
    Soft targets (one row of class probabilities per sample) are used as given: unlike
    PaddleClas, no softmax is applied to them. The reduction is described in the module docstring.

    Args:
        epsilon: label-smoothing factor in [0, 1); None or 0 disables smoothing.
        class_weights: one weight >= 0 per class, or ``'auto'`` (inverse class frequency of the
            training set, resolved by ``build_loss(..., class_counts=...)``); None: unweighted.
        weight: the weight of this loss in the weighted sum (honoured even for a lone loss).

    Example:
        >>> loss = CELoss(epsilon=0.1, class_weights=[1.0, 4.0])(torch.randn(8, 2), torch.randint(2, (8,)))
    """

    def __init__(self, epsilon: float | None = None, class_weights: list[float] | str | None = None,
                 weight: float = 1.0):
        super().__init__()
        name = type(self).__name__
        if epsilon is not None and not 0 <= epsilon < 1:
            raise ValueError(f"{name}.epsilon must be in [0, 1), got {epsilon}")
        self.epsilon = float(epsilon or 0.0)
        self.weight = float(weight)
        self.register_buffer("class_weights", check_class_weights(class_weights, name), persistent=False)

    def per_sample(self, logits: torch.Tensor, target: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(l_i, n_i, plain_i)``: weighted loss, its normaliser and the unweighted CE of each sample."""
        rows = target_rows(logits, target, self.epsilon)
        nll = -F.log_softmax(logits.float(), dim=-1) * rows
        plain = nll.sum(-1)
        weights = weights_for(self.class_weights, logits, type(self).__name__)
        if weights is None:
            return plain, torch.ones_like(plain), plain
        return (nll * weights).sum(-1), (rows * weights).sum(-1), plain

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the (weighted) mean loss over the batch."""
        if self.class_weights is None:
            if target.ndim == logits.ndim:  # soft targets
                return self.per_sample(logits, target)[0].mean()
            return F.cross_entropy(logits.float(), target, label_smoothing=self.epsilon)
        loss, norm, _ = self.per_sample(logits, target)
        return loss.sum() / norm.sum()


class MixCELoss(CELoss):
    """PaddleClas's old name for cross entropy on mixed (MixUp/CutMix) targets: ``CELoss`` exactly.

    Batch ops hand the loss soft target rows, which ``CELoss`` already takes as given.
    """


class OHEMCELoss(CELoss):
    """Online hard example mining: ``CELoss`` over only the hardest samples of each batch.

    The ``k = max(min_kept, ceil(keep_ratio * B))`` samples (at most ``B``) with the largest
    unweighted cross entropy are kept; the loss is ``CELoss``'s reduction over those samples
    (their class weights included). PaddleClas has no classification OHEM loss; the name follows
    the ``CELoss`` family.

    Args:
        keep_ratio: fraction of each batch kept, in (0, 1].
        min_kept: keep at least this many samples (all of a smaller batch).
        epsilon, class_weights, weight: as in `CELoss`.

    Example:
        >>> loss = OHEMCELoss(keep_ratio=0.5)(torch.randn(8, 3), torch.randint(3, (8,)))
    """

    def __init__(self, keep_ratio: float = 0.7, min_kept: int = 1, epsilon: float | None = None,
                 class_weights: list[float] | str | None = None, weight: float = 1.0):
        super().__init__(epsilon, class_weights, weight)
        if not 0 < keep_ratio <= 1:
            raise ValueError(f"OHEMCELoss.keep_ratio must be in (0, 1], got {keep_ratio}")
        if isinstance(min_kept, bool) or not isinstance(min_kept, int) or min_kept < 1:
            raise ValueError(f"OHEMCELoss.min_kept must be an integer >= 1, got {min_kept!r}")
        self.keep_ratio, self.min_kept = float(keep_ratio), min_kept

    def num_kept(self, batch: int) -> int:
        """How many of ``batch`` samples are kept."""
        return min(batch, max(self.min_kept, math.ceil(self.keep_ratio * batch - 1e-9)))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss over the hardest ``num_kept(B)`` samples."""
        loss, norm, plain = self.per_sample(logits, target)
        kept = plain.detach().topk(self.num_kept(plain.shape[0])).indices
        return loss[kept].sum() / norm[kept].sum()
