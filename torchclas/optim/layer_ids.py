"""PaddleClas AdamWDL's layer-wise LR decay: which transformer layer a parameter name belongs to."""

from __future__ import annotations

from torch import nn

__all__ = ["adamwdl_layers", "adamwdl_ratio"]

_EMBEDDING_WORDS = ("embed", "token", "conv1", "ln_pre")
"""Names PaddleClas counts as the embedding, below block 0 (patch/pos embeddings, cls token,
CLIP's ``conv1`` patchify and ``ln_pre``)."""


def adamwdl_layers(model: nn.Module) -> int:
    """The number of transformer blocks, PaddleClas's ``model.get_num_layers()``: ``len(model.blocks)``.

    Example:
        >>> import timm
        >>> adamwdl_layers(timm.create_model("vit_tiny_patch16_224", depth=3))
        3
    """
    if hasattr(model, "get_num_layers"):
        return int(model.get_num_layers())
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Module) or not hasattr(blocks, "__len__"):
        raise ValueError(f"Optimizer.layerwise_decay with AdamWDL: {type(model).__name__} has no list of "
                         "transformer `blocks` to count layers by (PaddleClas uses it with ViT-like models: "
                         "CAE, CLIP, ViT, DeiT); use AdamW with layerwise_decay for other models")
    return len(blocks)


def adamwdl_ratio(name: str, decay: float, layers: int) -> float:
    """The LR ratio of parameter ``name`` under PaddleClas's AdamWDL rule.

    ``blocks.<i>.…`` gets ``decay ** (layers - i)``; a name containing ``embed``, ``token``,
    ``conv1`` or ``ln_pre`` gets ``decay ** (layers + 1)``; everything else (final norm, head)
    trains at the full LR.

    Example:
        >>> [adamwdl_ratio(n, 0.5, 2) for n in ("pos_embed", "blocks.0.attn.qkv.weight",
        ...                                     "blocks.1.mlp.fc1.bias", "head.weight")]
        [0.125, 0.25, 0.5, 1.0]
    """
    if "blocks" in name:
        index = name.find("blocks.")
        if index >= 0:
            layer = name[index:].split(".")[1]
            if layer.isdigit():
                return decay ** (layers - int(layer))
        return 1.0
    if any(word in name for word in _EMBEDDING_WORDS):
        return decay ** (layers + 1)
    return 1.0
