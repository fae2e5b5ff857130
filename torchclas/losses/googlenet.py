"""PaddleClas's ``GoogLeNetLoss``: cross entropy of GoogLeNet's main and two auxiliary heads."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GoogLeNetLoss", "AUX_WEIGHT"]

AUX_WEIGHT = 0.3  # each auxiliary head's weight (the paper's and PaddleClas's)


class GoogLeNetLoss(nn.Module):
    """``CE(main) + 0.3 * CE(aux1) + 0.3 * CE(aux2)`` over GoogLeNet's three training outputs.

    It takes the model's outputs as they are (``takes_outputs``): the dict ``{"logits", "aux1",
    "aux2"}`` our GoogLeNet returns in training mode, or PaddleClas's ``[main, aux1, aux2]``.
    A plain tensor (the main logits, all a GoogLeNet gives in eval mode) gets ``CE(main)``:
    evaluation reports the main head's loss, where PaddleClas, whose model always returns three
    outputs, adds the auxiliary heads' too. ``MODEL_KWARGS`` builds GoogLeNet with its aux heads
    (``Arch.aux_heads: true``) when a config trains with this loss.

    Args:
        epsilon: label smoothing is not supported, as in PaddleClas: None or 0 only.
        weight: the weight of this loss in the weighted sum.

    Example:
        >>> logits = torch.zeros(2, 4)  # every head uniform: each CE is log(4)
        >>> loss = GoogLeNetLoss()({"logits": logits, "aux1": logits, "aux2": logits}, torch.tensor([0, 3]))
        >>> round(float(loss), 4) == round(1.6 * float(torch.log(torch.tensor(4.0))), 4)
        True
    """

    takes_outputs: ClassVar[bool] = True
    MODEL_KWARGS: ClassVar[dict[str, dict[str, Any]]] = {"GoogLeNet": {"aux_heads": True}}

    def __init__(self, epsilon: float | None = None, weight: float = 1.0):
        super().__init__()
        if epsilon is not None and 0 < epsilon < 1:
            raise ValueError(f"GoogLeNetLoss does not support label smoothing (epsilon={epsilon}), as in PaddleClas")
        self.weight = float(weight)

    def forward(self, outputs: Any, target: torch.Tensor) -> torch.Tensor:
        """The weighted sum of the three heads' mean cross entropy (``CE(main)`` for a tensor)."""
        if isinstance(outputs, torch.Tensor):
            return F.cross_entropy(outputs.float(), target)
        if isinstance(outputs, dict):
            missing = {"logits", "aux1", "aux2"} - set(outputs)
            if missing:
                raise TypeError(f"GoogLeNetLoss needs the outputs logits, aux1, aux2; missing {sorted(missing)} "
                                f"(the model returned {sorted(outputs)})")
            heads = [outputs["logits"], outputs["aux1"], outputs["aux2"]]
        elif isinstance(outputs, (list, tuple)) and len(outputs) == 3:
            heads = list(outputs)
        else:
            raise TypeError(f"GoogLeNetLoss takes GoogLeNet's three outputs, got {type(outputs).__name__}")
        main, aux1, aux2 = (F.cross_entropy(h.float(), target) for h in heads)
        return main + AUX_WEIGHT * (aux1 + aux2)
