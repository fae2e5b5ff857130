"""Models: the PaddleClas-name table and ``create_model``.

Layout: one module per family (``resnet.py``, ``mobilenet_v3.py``, ``vit.py``, ...) holding its
architecture and its table rows; ``entry.py`` (the row type), ``table.py`` (``MODEL_TABLE``,
gathered from an explicit list of family modules), ``layers/`` (blocks several families share),
``io/`` (weights files and PaddleClas conversion), ``reparam.py`` (branch folding), ``lr_mult.py``
(PaddleClas's per-stage LR multipliers, ``Arch.lr_mult_list``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from torch import nn

from ..config.errors import closest
from .entry import ModelEntry
from .fused_attn import set_fused_attn
from .io.pretrained import pretrained_path
from .io.weights import WeightsFileError, load_pretrained, read_state_dict, resolve_weights_path
from .layers.heads import FeatureExtractor, add_extra_fc
from .lr_mult import check_lr_mult_list, param_lr_mults
from .table import MODEL_TABLE

__all__ = ["FeatureExtractor", "MODEL_TABLE", "ModelEntry", "check_lr_mult_list", "create_model", "list_models",
           "load_pretrained", "param_lr_mults", "read_state_dict", "resolve_weights_path"]


def list_models(pattern: str = "*") -> list[str]:
    """Names in the table matching a shell-style ``pattern`` (case-insensitive)."""
    import fnmatch

    return sorted(n for n in MODEL_TABLE if fnmatch.fnmatch(n.lower(), pattern.lower()))


def create_model(name: str, class_num: int = 1000, pretrained: bool | str | Path = False,
                 use_ssld: bool = False, extra_fc: int | None = None, extra_fc_act: str = "relu",
                 return_stages: Sequence[int] | None = None, acb: bool = False,
                 use_fused_attn: bool | None = None, use_fused_linear: bool = False, **kwargs: Any) -> nn.Module:
    """Build a model by its PaddleClas name, like timm's ``create_model``.

    Args:
        name: a name of ``MODEL_TABLE`` such as ``"ResNet50_vd"`` or ``"PPLCNet_x1_0"``.
        class_num: size of the classifier.
        pretrained: ``True`` for PaddleClas's official ImageNet weights (downloaded once into
            ``$TORCHCLAS_HOME``, default ``~/.cache/torchclas``, and converted), a URL, or a
            local weights path (with or without extension). A classifier of another size than
            the file's is left at its random start (logged), as PaddleClas fine-tuning does.
        use_ssld: with ``pretrained=True``, PaddleClas's SSLD-distilled weights.
        extra_fc: width of an extra FC (+ ``extra_fc_act``) between pooling and classifier.
        return_stages: return a :class:`FeatureExtractor` giving these stages' feature maps
            (0 = the first stride-4 stage) instead of a classifier.
        acb: train with asymmetric convolution blocks (ACNet); ``reparameterize()`` folds them.
        use_fused_attn: PaddleClas's fused-attention switch: sets timm's ``fused_attn`` (PyTorch's
            ``scaled_dot_product_attention``) on every attention layer; None keeps timm's default.
            Same numbers either way (to float rounding).
        use_fused_linear: PaddleClas's ``FusedLinear`` switch (matmul and bias add in one
            kernel); accepted without effect: PyTorch's ``Linear`` is one ``addmm`` already.
        **kwargs: passed to the builder (e.g. ``in_chans``, ``drop_rate``, ``use_se``).

    Example:
        >>> model = create_model("ResNet18", class_num=10)
        >>> backbone = create_model("ResNet50_vd", return_stages=[1, 2, 3])
    """
    del use_fused_linear  # no effect, see above
    if name not in MODEL_TABLE:
        raise ValueError(f"unknown model '{name}'{closest(name, MODEL_TABLE)}; "
                         f"see `torchclas models` for the {len(MODEL_TABLE)} names")
    try:
        model = MODEL_TABLE[name].build(num_classes=class_num, **kwargs)
    except TypeError as exc:
        raise ValueError(f"model '{name}': bad Arch argument: {exc}") from None
    if use_fused_attn is not None:
        set_fused_attn(model, use_fused_attn)
    if acb:
        from .layers.acnet import apply_acb
        model = apply_acb(model)
    if extra_fc:
        model = add_extra_fc(model, extra_fc, extra_fc_act, drop_rate=kwargs.get("drop_rate", 0.0))
    model.torchclas_name, model.torchclas_kwargs = name, kwargs
    if pretrained:
        load_pretrained(model, pretrained_path(name, pretrained, use_ssld, kwargs))
    if return_stages is not None:
        model = FeatureExtractor(model, return_stages)
        model.torchclas_name = name
    return model
