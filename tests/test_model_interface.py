"""The shared model interface on every name of the model table, with real tensors on the CPU.

Each row is built with random weights (``create_model(name, class_num=5)``) and checked:
``forward_features`` gives a finite tensor; ``forward_head`` of it gives ``(batch, 5)`` logits
equal to ``model(x)`` in eval mode; ``forward_head(features, pre_logits=True)`` gives the pooled
``(batch, head_hidden_size or num_features)`` features the classifier reads; a backward pass from
the logits (train mode) gives every parameter that requires grad a finite gradient;
``reset_classifier(3)`` makes the logits 3 wide.

To stay within a few CPU minutes for 349 rows, the input is a batch of 2 (4 for the backward
pass) at the smallest side the architecture takes (32 unless ``SIZE_BY_FAMILY`` says otherwise); rows
whose patch grid or position table is fixed at build time get ``img_size=``
(``IMG_SIZE_FAMILIES``), and the biggest rows are built with fewer blocks of the same kind
(``SHALLOW``). test_models.py and test_analysis.py still build every row at its full depth.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from torchclas.models import MODEL_TABLE, create_model

BATCH = 2
# The backward pass runs in train mode on 4 images: at 32 px the last stages run on 1x1 maps, and
# train-mode BatchNorm over 2 values per channel has a gradient that is zero in theory and rounding
# noise over a near-zero spread in practice (it overflowed float32 in EfficientNetV2_L/XL).
GRAD_BATCH = 4
CLASS_NUM = 5
SIZE = 32  # a stride-32 convnet ends on a 1x1 map

# Families whose smallest input side is larger than SIZE (found by trying 32, 64, 96, 128).
SIZE_BY_FAMILY = {
    "AlexNet": 64, "DSNet": 64, "GoogLeNet": 64, "MobileViTV3": 64, "SqueezeNet": 64,
    "CSWinTransformer": 64,  # built at img_size=64 with splits that divide its 16/8/4/2 maps (ARGS_BY_FAMILY)
    "Inception": 96,
}
# Families that fix the input side when built (patch grid, position embeddings, attention biases).
IMG_SIZE_FAMILIES = {"CAE", "DeiT", "FoundationViT", "LeViT", "SwinTransformer", "SwinTransformerV2", "TNT", "ViT"}

# Builder arguments a family needs at its small side (the same parameters, smaller maps).
ARGS_BY_FAMILY: dict[str, dict[str, Any]] = {
    "CSWinTransformer": {"img_size": 64, "splits": (1, 2, 2, 2)},
}
# The biggest rows with fewer blocks per stage (same block types and widths): full depth costs
# 5-50 s each on one core (mostly weight initialisation and weight-sized gradients); their
# smaller siblings run at full depth.
_FEW_RESNET_BLOCKS = {"layers": (1, 1, 2, 1)}
_FEW_SWIN_BLOCKS = {"depths": (2, 2, 2, 2)}
SHALLOW: dict[str, dict[str, Any]] = {
    **{name: _FEW_RESNET_BLOCKS for name in (
        "ResNeXt101_32x48d_wsl", "ResNeXt101_32x32d_wsl", "ResNeXt101_32x16d_wsl", "ResNeXt152_64x4d",
        "ResNeXt152_vd_64x4d")},
    **{name: {"depth": 2} for name in (
        "ViT_large_patch16_224", "ViT_large_patch16_384", "ViT_large_patch32_384", "MAE_vit_large_patch16",
        "CLIP_vit_large_patch14_224", "CLIP_vit_large_patch14_336", "BEiTv2_vit_large_patch16_224",
        "cae_large_patch16_224")},
    **{name: {"depths": (1, 1, 2, 1)} for name in ("ConvNeXt_large_224", "ConvNeXt_large_384")},
    **{name: _FEW_SWIN_BLOCKS for name in (
        "SwinTransformer_large_patch4_window12_384", "SwinTransformer_large_patch4_window7_224",
        "SwinTransformerV2_large_patch4_window16_256", "SwinTransformerV2_large_patch4_window24_384")},
    **{name: {**ARGS_BY_FAMILY["CSWinTransformer"], "depths": (1, 2, 2, 1)} for name in (
        "CSWinTransformer_large_224", "CSWinTransformer_large_384", "CSWinTransformer_base_224",
        "CSWinTransformer_base_384")},
}

# Parameters that get no gradient from the logits by design, by row name.
NO_GRAD_BY_DESIGN: dict[str, set[str]] = {
    # PaddleClas/FixMatch's WRN: a widening block without activate_before_residual computes bn1
    # and discards it (its statistics still update); kept so PaddleClas weights load.
    "WideResNet": {"block2.layer.0.bn1.weight", "block2.layer.0.bn1.bias",
                   "block3.layer.0.bn1.weight", "block3.layer.0.bn1.bias"},
}

# Rows that do not keep the interface today (xfail strict: a fix turns them into failures to remove).
KNOWN_FAILURES: dict[str, str] = {}


def _build_args(name: str) -> tuple[int, dict[str, Any]]:
    """(input side, builder arguments) for row ``name``."""
    family = MODEL_TABLE[name].family
    size = SIZE_BY_FAMILY.get(family, SIZE)
    kwargs: dict[str, Any] = {"img_size": size} if family in IMG_SIZE_FAMILIES else {}
    kwargs.update(ARGS_BY_FAMILY.get(family, {}))
    kwargs.update(SHALLOW.get(name, {}))
    return size, kwargs


def _params(name: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[name])] if name in KNOWN_FAILURES else []
    return pytest.param(name, marks=marks)


def test_exception_tables_name_real_rows():
    families = {entry.family for entry in MODEL_TABLE.values()}
    assert set(SIZE_BY_FAMILY) | IMG_SIZE_FAMILIES | set(ARGS_BY_FAMILY) <= families
    assert set(SHALLOW) | set(NO_GRAD_BY_DESIGN) | set(KNOWN_FAILURES) <= set(MODEL_TABLE)


def _check_gradients(name: str, model: torch.nn.Module, x: torch.Tensor) -> None:
    """Train mode, as training runs: every parameter that requires grad gets a finite one."""
    model.train()
    logits = model.forward_head(model.forward_features(x))
    (logits.float() * torch.linspace(-1, 1, logits.shape[1])).sum().backward()
    exempt = NO_GRAD_BY_DESIGN.get(name, set())
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None and n not in exempt]
    assert not missing, f"{name}: {len(missing)} parameters get no gradient, e.g. {missing[:5]}"
    unused = [n for n in exempt if dict(model.named_parameters())[n].grad is not None]
    assert not unused, f"{name}: NO_GRAD_BY_DESIGN lists parameters that do get a gradient: {unused}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: non-finite gradients in {bad[:5]}"
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", [_params(name) for name in sorted(MODEL_TABLE)])
def test_model_interface(name):
    size, kwargs = _build_args(name)
    torch.manual_seed(0)
    model = create_model(name, class_num=CLASS_NUM, **kwargs)
    x = torch.randn(GRAD_BATCH, 3, size, size)
    _check_gradients(name, model, x)
    x = x[:BATCH]

    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert torch.is_tensor(features) and features.shape[0] == BATCH, name
        assert torch.isfinite(features).all(), f"{name}: non-finite features"
        logits = model.forward_head(features)
        assert logits.shape == (BATCH, CLASS_NUM), name
        torch.testing.assert_close(logits, model(x), rtol=1e-4, atol=1e-5, msg=lambda m: f"{name}: {m}")

        model.reset_classifier(3)
        assert model.forward_head(features).shape == (BATCH, 3), name
        assert model(x).shape == (BATCH, 3), name

        # last, so that a row failing only here (KNOWN_FAILURES) has had every other check
        pre = model.forward_head(features, pre_logits=True)
        width = getattr(model, "head_hidden_size", None) or model.num_features  # timm: the head's input width
        assert pre.shape == (BATCH, width), f"{name}: pre-logits {tuple(pre.shape)}, expected (B, {width})"
        assert torch.isfinite(pre).all(), name
