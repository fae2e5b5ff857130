"""timm's BEiT configured as PaddleClas's BEiT-style ViTs (BEiTv2, CAE).

Two PaddleClas files build them, differently:

* ``foundation_vit.py`` (``BEiTv2_vit_*``, ``CAE_vit_base_patch16_224``): a bias-free patch conv and
  one ``qkv`` Linear with a full bias (q, k and v; timm's BEiT has q and v biases only);
* ``cae.py`` (``cae_*_patch16_224``): timm's layout, plus a fixed 2-D sine-cosine position
  embedding (a frozen parameter).

:func:`paddle_beit` builds the timm model and patches it in place (through ``modules()``, so
timm's ``features_only`` wrappers keep working).
"""

from __future__ import annotations

from typing import Any

import timm
import torch
from timm.layers import PatchEmbed
from timm.models.beit import Attention as BeitAttention
from torch import nn

__all__ = ["paddle_beit", "sincos_pos_embed"]


def sincos_pos_embed(grid: tuple[int, int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """PaddleClas CAE's fixed position embedding, (1, 1 + H*W, dim): a zero row for the class
    token, then per patch ``[sin(w*o), cos(w*o), sin(h*o), cos(h*o)]`` with ``o = T**(-i/(dim/4))``
    and patches ordered with the width index outermost (Paddle's ``meshgrid(w, h)``).

    Raises:
        ValueError: ``dim`` is not a multiple of 4.
    """
    if dim % 4:
        raise ValueError(f"sine-cosine position embedding: dim {dim} is not a multiple of 4")
    height, width = grid
    grid_w, grid_h = torch.meshgrid(torch.arange(width, dtype=torch.float32),
                                    torch.arange(height, dtype=torch.float32), indexing="ij")
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    out_w, out_h = grid_w.flatten()[:, None] * omega, grid_h.flatten()[:, None] * omega
    table = torch.cat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)
    return torch.cat([torch.zeros(1, dim), table])[None]


def paddle_beit(timm_name: str, full_qkv_bias: bool = False, patch_bias: bool = True,
                sincos_pos: bool = False, **kwargs: Any) -> nn.Module:
    """timm's ``timm_name`` (a BEiT) with PaddleClas's variations.

    Args:
        timm_name: ``beitv2_base_patch16_224`` or ``beitv2_large_patch16_224``.
        full_qkv_bias: one ``qkv`` Linear with a (3 * dim) bias, as ``foundation_vit.py``.
        patch_bias: keep the patch conv's bias (``foundation_vit.py`` has none).
        sincos_pos: the absolute position embedding is CAE's fixed sine-cosine table.
        **kwargs: to ``timm.create_model`` (``num_classes``, ``global_pool``, ...).
    """
    if full_qkv_bias:
        kwargs["qkv_bias"] = False  # timm then calls self.qkv(x), which the biased Linear below serves
    model = timm.create_model(timm_name, pretrained=False, **kwargs)
    for module in model.modules():
        if full_qkv_bias and isinstance(module, BeitAttention):
            old = module.qkv
            module.qkv = nn.Linear(old.in_features, old.out_features, device=old.weight.device,
                                   dtype=old.weight.dtype)
            if old.weight.device.type != "meta":
                with torch.no_grad():
                    module.qkv.weight.copy_(old.weight)
                    module.qkv.bias.zero_()
        if not patch_bias and isinstance(module, PatchEmbed):
            module.proj.bias = None
        if sincos_pos and isinstance(getattr(module, "pos_embed", None), nn.Parameter):
            pos, grid = module.pos_embed, module.patch_embed.grid_size
            if pos.device.type != "meta":
                with torch.no_grad():
                    pos.copy_(sincos_pos_embed(grid, pos.shape[-1]).to(pos.dtype))
            pos.requires_grad_(False)
    return model
