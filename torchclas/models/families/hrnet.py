"""HRNet rows: timm's HighResolutionNet with PaddleClas's bias-free head convs
(``torchclas/models/hrnet_paddle.py`` says what is patched and why).

Top-1 values: PaddleClas docs/en/models/HRNet_en.md (the non-SSLD weights where both exist;
SE_HRNet_W64_C has only SSLD weights). PaddleClas exports ``HRNet_W60_C`` and
``SE_HRNet_W64_C`` but its own builders for them raise ``KeyError`` (no entry in its
``MODEL_URLS``, looked up even without weights); the rows follow its ``HRNet`` class, which
the ``paddle`` tests build directly.
"""

from __future__ import annotations

from ..zoo import ModelEntry

__all__ = ["rows"]

# width: PaddleClas top-1 %
_TOP1 = {18: 76.9, 30: 78.0, 32: 78.3, 40: 78.8, 44: 79.0, 48: 79.0, 60: None, 64: 79.3}
_NOTE = "timm HRNet with bias-free head convs (head_conv_bias=False)"


def rows() -> list[ModelEntry]:
    """The HRNet rows (see the module docstring)."""
    from ..hrnet_paddle import build_hrnet

    out = []
    for width, top1 in _TOP1.items():
        backend = f"timm:hrnet_w{width}" if width != 60 else "timm:hrnet_w64+config"
        note = _NOTE if width != 60 else f"{_NOTE}; branch widths (60, 120, 240, 480); no PaddleClas weights"
        out.append(ModelEntry(f"HRNet_W{width}_C", "HRNet", build_hrnet, backend, kwargs=dict(width=width),
                              top1=top1, note=note))
    out.append(ModelEntry("SE_HRNet_W64_C", "HRNet", build_hrnet, "timm:hrnet_w64+patch",
                          kwargs=dict(width=64, use_se=True), top1=84.7,
                          note=f"{_NOTE}; PaddleClas's Linear SE (C/16) in every block; top1 of the SSLD weights"))
    return out
