"""Structural re-parameterisation: RepVGG and ACB fold to single convs with the same eval output."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest
import timm
import torch
from timm.layers import ConvNormAct
from timm.models.byobnet import RepVggBlock
from torch import nn

from torchclas.configure import config_from_dict
from torchclas.engine.checkpoint import save_weights
from torchclas.export import build_inference_model, export_onnx
from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.layers.acnet import ACBlock, acb_suitable, apply_acb
from torchclas.models.repvgg import RepVGG, repvgg_config
from torchclas.models.reparam import fold_conv_bn, reparameterize_model

from conftest import EVAL_OPS


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """BN statistics and affine parameters away from 0/1, so folding them is tested."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
    return model


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


def model_reparameterize(model: nn.Module) -> nn.Module:
    model.reparameterize()
    return model


def assert_fold_keeps_output(model: nn.Module, size: int = 32, fold=reparameterize_model) -> nn.Module:
    """Fold ``model`` (eval mode); float64 and float32 outputs must agree. Returns the folded float32 one."""
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    model = model.eval()
    with torch.no_grad():
        want32 = model(x)
        want64 = model.double()(x.double())
        folded = fold(model)
        got64 = folded(x.double())
        got32 = folded.float()(x)
    scale64, scale32 = want64.abs().max(), want32.abs().max()
    assert scale32 > 1e-3  # logits carry signal, so the relative bound means something
    assert (got64 - want64).abs().max() <= 1e-5 * scale64
    assert (got32 - want32).abs().max() <= 1e-4 * scale32
    return folded


def test_repvgg_a0_folds_to_one_conv_per_block():
    torch.manual_seed(0)
    model = randomize_bn(create_model("RepVGG_A0", class_num=10))
    blocks = count(model, RepVggBlock)
    assert blocks == 1 + 2 + 4 + 14 + 1
    assert count(model, nn.Conv2d) == 2 * blocks  # 3x3 and 1x1 branch per block
    before = n_params(model)
    folded = assert_fold_keeps_output(model, fold=model_reparameterize)
    assert folded is model
    assert count(folded, nn.Conv2d) == blocks
    assert count(folded, nn.BatchNorm2d) == 0 and count(folded, ConvNormAct) == 0
    assert all(b.reparam_conv.kernel_size == (3, 3) for b in folded.modules() if isinstance(b, RepVggBlock))
    assert n_params(folded) < before


def test_grouped_se_repvgg_folds():
    """Groups (identity kernel per group) and SE (after the sum, before ReLU) as B1g2 / D2se use them."""
    torch.manual_seed(0)
    cfg = repvgg_config((1, 3, 1, 1), (0.25, 0.25, 0.25, 0.25), groups=2, se=True)
    model = randomize_bn(RepVGG(cfg, num_classes=5))
    assert {m.groups for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)} == {1, 2}
    folded = assert_fold_keeps_output(model)
    assert count(folded, nn.BatchNorm2d) == 0


@pytest.mark.parametrize("name,groups,se", [("RepVGG_B1g2", 2, False), ("RepVGG_B3g4", 4, False),
                                            ("RepVGG_D2se", 1, True)])
def test_repvgg_rows_build_paddle_layout(name, groups, se):
    """Grouped rows: groups on PaddleClas's even global layers (2, 4, ..., 26); D2se: SE C -> C/16."""
    with torch.device("meta"):
        model = create_model(name, class_num=1000)
    dense = [b.conv_kxk.conv for b in model.modules() if isinstance(b, RepVggBlock)]
    layer_groups = [conv.groups for conv in dense[1:]]  # dense[0] is the stem (layer 0)
    assert layer_groups == [groups if i % 2 == 0 and i <= 26 else 1 for i in range(1, len(dense))]
    ses = [b.attn for b in model.modules() if isinstance(b, RepVggBlock)]
    if se:
        assert all(s.fc1.out_channels == s.fc1.in_channels // 16 for s in ses)
    else:
        assert all(isinstance(s, nn.Identity) for s in ses)
    assert MODEL_TABLE[name].top1 is not None


def test_repvgg_params_match_paddleclas():
    """Trainable parameter counts measured from PaddleClas 2.6 (BN statistics excluded)."""
    paddle_counts = {"RepVGG_A0": 9108968, "RepVGG_B1g2": 45782376, "RepVGG_D2se": 133334836}
    for name, want in paddle_counts.items():
        with torch.device("meta"):
            assert n_params(create_model(name, class_num=1000)) == want, name


def test_repvgg_features_only_still_works():
    model = create_model("RepVGG_A0", class_num=10, features_only=True, out_indices=(2, 4))
    feats = model(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [96, 1280] and feats[-1].shape[-1] == 2


def test_acb_resnet18_converts_trains_and_folds():
    torch.manual_seed(0)
    model = create_model("ResNet18", class_num=10)
    shortcuts = sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in model.modules())
    model = apply_acb(model)
    # 7x7 stem + 16 3x3 convs; the 1x1 shortcut convs stay plain
    assert count(model, ACBlock) == 17
    assert {b.conv.kernel_size[0] for b in model.modules() if isinstance(b, ACBlock)} == {7, 3}
    assert isinstance(model.bn1, nn.Identity) and isinstance(model.conv1, ACBlock)
    loss = model(torch.randn(2, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    assert model.layer1[0].conv1.conv_hor.weight.grad.abs().sum() > 0
    randomize_bn(model, seed=3)
    before = n_params(model)
    folded = assert_fold_keeps_output(model)
    assert count(folded, ACBlock) == 0
    assert shortcuts >= 3 and count(folded, nn.BatchNorm2d) == shortcuts  # 1x1 conv BNs: never ACB-ed
    assert count(folded, nn.Conv2d) == 17 + shortcuts
    assert folded.conv1.bias is not None and folded.conv1.kernel_size == (7, 7)
    assert n_params(folded) < before


def test_acb_plain_net_with_strides_groups_and_conv_norm_act():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 5, stride=2, padding=2, groups=2), nn.BatchNorm2d(8), nn.ReLU(),
        ConvNormAct(8, 16, 3, stride=2),                    # timm conv + BatchNormAct2d(ReLU)
        nn.Conv2d(16, 16, 3, padding=0), nn.BatchNorm2d(16),  # "valid" padding: left alone
        nn.Conv2d(16, 16, 1), nn.BatchNorm2d(16),           # 1x1: left alone
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))
    net = apply_acb(net)
    assert count(net, ACBlock) == 3
    assert isinstance(net[6].conv, ACBlock) and isinstance(net[6].bn, nn.ReLU)
    assert isinstance(net[0], ACBlock) and isinstance(net[1], nn.Identity)
    assert type(net[7]) is nn.Conv2d and type(net[9]) is nn.Conv2d
    randomize_bn(net, seed=5)
    before = n_params(net)
    folded = assert_fold_keeps_output(net)
    assert count(folded, ACBlock) == 0 and count(folded, nn.Conv2d) == 5
    assert folded[3].groups == 2 and folded[3].stride == (2, 2) and folded[3].kernel_size == (5, 5)
    assert n_params(folded) < before


def test_acb_leaves_repvgg_blocks_alone():
    model = apply_acb(create_model("RepVGG_A0", class_num=10))
    assert count(model, ACBlock) == 0


def test_acb_block_rules():
    assert not acb_suitable(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(8))  # BN over other channels
    assert not acb_suitable(nn.Conv2d(4, 4, 3, padding=2, dilation=2), nn.BatchNorm2d(4))
    assert not acb_suitable(nn.Conv2d(4, 4, (3, 5), padding=1), nn.BatchNorm2d(4))
    assert acb_suitable(nn.Conv2d(4, 4, 3, padding=2), nn.BatchNorm2d(4))  # extra padding is fine
    with pytest.raises(ValueError, match="odd kernel_size"):
        ACBlock(4, 4, kernel_size=4)
    # a bare ACBlock folds at the root too
    block = randomize_bn(ACBlock(4, 6, 3, stride=2, padding=2)).eval()
    x = torch.randn(1, 4, 9, 9)
    conv = reparameterize_model(block)
    assert type(conv) is nn.Conv2d and not conv.training
    torch.testing.assert_close(conv(x), block(x), rtol=1e-4, atol=1e-5)


def test_fold_conv_bn_with_conv_bias():
    conv, bn = nn.Conv2d(3, 5, 3, bias=True), randomize_bn(nn.BatchNorm2d(5)).eval()
    weight, bias = fold_conv_bn(conv, bn)
    x = torch.randn(1, 3, 6, 6)
    torch.testing.assert_close(nn.functional.conv2d(x, weight, bias), bn(conv(x)), rtol=1e-4, atol=1e-5)


def test_reparameterize_without_branches_is_a_no_op():
    model = timm.create_model("resnet18", num_classes=3).eval()
    keys = list(model.state_dict())
    assert reparameterize_model(model) is model and list(model.state_dict()) == keys


def export_config(weights, name: str) -> dict:
    return {"Global": {"pretrained_model": str(weights), "image_shape": [3, 32, 32]},
            "Arch": {"name": name, "class_num": 3},
            "DataLoader": {"Eval": {"dataset": {"name": "ImageNetDataset", "transform_ops": EVAL_OPS}}},
            "Infer": {"PostProcess": {"name": "Topk", "topk": 1}}}


def test_export_writes_the_folded_repvgg(tmp_path):
    torch.manual_seed(0)
    model = randomize_bn(create_model("RepVGG_A0", class_num=3)).eval()
    save_weights(model, tmp_path / "best.safetensors")
    cfg = config_from_dict(export_config(tmp_path / "best", "RepVGG_A0"))
    assert count(build_inference_model(cfg), nn.BatchNorm2d) == 0
    info = export_onnx(cfg, tmp_path / "model.onnx")
    graph = onnx.load(str(tmp_path / "model.onnx")).graph
    convs = sum(node.op_type == "Conv" for node in graph.node)
    assert convs == count(model, RepVggBlock) == 22  # unfolded: 44 convs
    assert not any(node.op_type == "BatchNormalization" for node in graph.node)
    # the folded graph still computes the trained (unfolded) model's logits
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    got = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        ["logits"], {"x": x.numpy()})[0]
    with torch.no_grad():
        want = model(x)
    assert abs(got - want.numpy()).max() <= 1e-4 * max(1.0, want.abs().max().item())
    assert info["max_abs_diff"] is not None  # and within export_onnx's own bound, else it raises
    assert info["reparameterized"] is True
    from torchclas.export import read_onnx_metadata
    assert read_onnx_metadata(tmp_path / "model.onnx")["reparameterized"] is True


def test_dbb_resnet18_trains_and_folds_to_one_conv_per_block_conv():
    """ResNet18_dbb (ImageNet/ResNet/ResNet18_dbb.yaml's ResNet18 + layer_type DiverseBranchBlock):
    every block conv trains as four branches and folds to one conv with the same eval output."""
    from torchclas.models.layers.dbb import DiverseBranchBlock

    torch.manual_seed(0)
    model = create_model("ResNet18_dbb", class_num=10)
    assert count(model, DiverseBranchBlock) == 16 and model.layer1[0].downsample is None  # no first short conv
    model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean().backward()
    assert model.layer1[0].conv1.dbb_1x1_kxk.idconv1.weight.grad.abs().sum() > 0  # every branch learns
    assert model.layer2[0].conv1.dbb_avg.conv.weight.grad.abs().sum() > 0
    randomize_bn(model, seed=4)
    with torch.no_grad():  # the identity-based 1x1 convs away from their zero start
        for block in model.modules():
            if isinstance(block, DiverseBranchBlock):
                block.dbb_1x1_kxk.idconv1.weight.normal_(0, 0.1)
    before = n_params(model)
    folded = assert_fold_keeps_output(model)
    assert count(folded, DiverseBranchBlock) == 0
    assert count(folded, nn.BatchNorm2d) == 1 + 3  # the stem's and the three shortcuts': never DBB
    assert count(folded, nn.Conv2d) == 1 + 16 + 3
    assert all(c.bias is not None for c in (folded.layer1[0].conv1, folded.layer4[1].conv2))
    assert n_params(folded) < before / 2
    plain = create_model("ResNet18", class_num=10, use_first_short_conv=False)
    biases = sum(c.out_channels for c in folded.modules() if isinstance(c, nn.Conv2d) and c.bias is not None)
    assert n_params(folded) == n_params(plain) - biases  # plain ResNet18: a BN (weight and bias) per conv


def test_dbb_block_folds_strided_grouped_and_1x1_and_refuses_depthwise():
    from torchclas.models.layers.dbb import DiverseBranchBlock

    torch.manual_seed(0)
    x = torch.randn(2, 8, 11, 11)
    for kernel, stride, groups in ((3, 2, 2), (1, 1, 1), (5, 1, 1)):
        block = randomize_bn(DiverseBranchBlock(8, 16, kernel, stride, groups), seed=kernel).eval()
        conv = reparameterize_model(block)
        assert type(conv) is nn.Conv2d and conv.kernel_size == (kernel, kernel) and conv.groups == groups
        torch.testing.assert_close(conv(x), block(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="depthwise"):
        DiverseBranchBlock(8, 8, 3, groups=8)
    with pytest.raises(ValueError, match="layer_type 'DBB'"):
        create_model("ResNet18", layer_type="DBB")
    with pytest.raises(ValueError, match="use_first_short_conv=False: only ResNet18/34"):
        create_model("ResNet50", use_first_short_conv=False)
