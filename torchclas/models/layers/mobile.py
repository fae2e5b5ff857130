"""Layers shared by our PaddleClas mobile networks (the families timm lacks or cannot match):
conv-BN-act, SE, channel shuffle, and a base class giving timm's model interface.

Every network registers its layers in PaddleClas's order (the weight converter pairs them by
order), so the head is added by :meth:`MobileNetBase.init_head` at the end of ``__init__``.
"""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import get_act_layer
from torch import nn

__all__ = ["ConvBNAct", "SEModule", "channel_shuffle", "make_act", "MobileNetBase"]


def make_act(act: str | None) -> nn.Module:
    """An activation module by timm name (``relu``, ``hard_swish``, ``swish`` ...); Identity for None."""
    return nn.Identity() if act is None else get_act_layer(act)()


class ConvBNAct(nn.Module):
    """``act(bn(conv(x)))`` with a bias-free conv padded by ``(kernel - 1) // 2`` (PaddleClas's ConvBNLayer)."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 1, stride: int = 1, groups: int = 1,
                 act: str | None = "relu"):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SEModule(nn.Module):
    """Squeeze-excite: ``x * gate(conv2(act(conv1(mean(x)))))`` reducing to ``channels // reduction``."""

    def __init__(self, channels: int, reduction: int = 4, act: str = "relu", gate: str = "hard_sigmoid"):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels // reduction, 1)
        self.act = make_act(act)
        self.conv2 = nn.Conv2d(channels // reduction, channels, 1)
        self.gate = make_act(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.conv2(self.act(self.conv1(x.mean((2, 3), keepdim=True)))))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet)."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch, groups, channels // groups, height, width).transpose(1, 2)
    return x.reshape(batch, channels, height, width)


class MobileNetBase(nn.Module):
    """timm's classifier interface over a ``forward_features`` body and a pooled head.

    The head is ``pool → [1x1 conv (+ BN) → act] → dropout → flatten → Linear``: the
    PaddleClas "last_conv" after pooling is optional. Subclasses implement
    ``forward_features``, set ``feature_info`` and call :meth:`init_head` last.
    """

    feature_info: list[dict[str, Any]]

    def init_head(self, in_chs: int, num_classes: int, head_chs: int = 0, act: str | None = None,
                  drop_rate: float = 0.0, head_bias: bool = False, head_norm: bool = False) -> None:
        """Register the head; ``head_chs=0`` means no conv after pooling."""
        self.num_features = in_chs
        self.head_hidden_size = head_chs or in_chs
        self.drop_rate = drop_rate
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        if head_chs:
            self.conv_head = nn.Conv2d(in_chs, head_chs, 1, bias=head_bias and not head_norm)
            self.norm_head = nn.BatchNorm2d(head_chs) if head_norm else nn.Identity()
            self.act_head = make_act(act)
        else:
            self.conv_head, self.norm_head, self.act_head = nn.Identity(), nn.Identity(), nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, head conv, dropout and (unless ``pre_logits``) the classifier."""
        x = self.act_head(self.norm_head(self.conv_head(self.global_pool(x))))
        x = self.flatten(self.head_drop(x))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final Linear (Identity when reset to 0 classes)."""
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier for ``num_classes`` (0: none, the model returns pooled features)."""
        self.classifier = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
