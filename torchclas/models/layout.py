"""Whether a model runs faster in channels_last (NHWC): convolutional nets do, on oneDNN and cuDNN.

Training (``engine/build.py``) and the torch inference backend decide the memory format the
same way, by counting convolutions.
"""

from __future__ import annotations

from torch import nn

__all__ = ["MIN_CONVS", "is_conv_net", "has_conv_weights", "onednn_nhwc_hazards"]

MIN_CONVS = 4
ONEDNN_IC_BLOCK = 16  # oneDNN's input-channel block on AVX-512 (8 on AVX2)


def is_conv_net(net: nn.Module) -> bool:
    """At least ``MIN_CONVS`` ``Conv2d`` layers: a net that channels_last speeds up.

    Example:
        >>> is_conv_net(nn.Sequential(*[nn.Conv2d(3, 3, 3) for _ in range(4)]))
        True
    """
    return sum(isinstance(m, nn.Conv2d) for m in net.modules()) >= MIN_CONVS


def has_conv_weights(net: nn.Module) -> bool:
    """At least ``MIN_CONVS`` 4-D parameters: :func:`is_conv_net` for a module that has no
    ``Conv2d`` modules left, such as a loaded ``torch.export`` program.

    Example:
        >>> has_conv_weights(nn.Linear(4, 2))
        False
    """
    return sum(p.ndim == 4 for p in net.parameters()) >= MIN_CONVS


def onednn_nhwc_hazards(net: nn.Module) -> list[str]:
    """Names of the trainable 1x1 convs with a stride and fewer than ``ONEDNN_IC_BLOCK`` input
    channels: in channels_last, oneDNN's backward-weights kernel for them writes past its
    workspace on CPU (uxlfoundation/oneDNN#6035; heap corruption, e.g. RepVGG's 1x1 stem branch
    on RGB input), so CPU training keeps such a net in NCHW.

    Example:
        >>> onednn_nhwc_hazards(nn.Sequential(nn.Conv2d(3, 8, 1, stride=2), nn.Conv2d(8, 8, 1, stride=2)))
        ['0', '1']
    """
    return [name for name, m in net.named_modules()
            if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1
            and m.in_channels < ONEDNN_IC_BLOCK and m.weight.requires_grad]
