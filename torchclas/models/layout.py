"""Whether a model runs faster in channels_last (NHWC): convolutional nets do, on oneDNN and cuDNN.

Training (``engine/build.py``) and the torch inference backend decide the memory format the
same way, by counting convolutions.
"""

from __future__ import annotations

from torch import nn

__all__ = ["MIN_CONVS", "is_conv_net", "has_conv_weights"]

MIN_CONVS = 4


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
