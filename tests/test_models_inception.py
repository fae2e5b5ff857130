"""The Xception, Xception-DeepLab, InceptionV4 and GoogLeNet rows (models/xception.py,
inception.py, googlenet.py) and
our own Xception, InceptionV4 and GoogLeNet.

Parameter counts are PaddleClas's state dict at class_num=1000 (BatchNorm statistics
included), measured in the Paddle venv; ours is the state dict without ``num_batches_tracked``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchclas.models import MODEL_TABLE, create_model
from tests.conftest import paddle_state_size

PADDLE_COUNTS = {  # name: (elements, tensors)
    "Xception41": (23019920, 356), "Xception65": (36036560, 596), "Xception71": (37856576, 638),
    "Xception41_deeplab": (27084872, 422), "Xception65_deeplab": (40101512, 662),
    "InceptionV4": (42742984, 747), "GoogLeNet": (11535736, 69),
}
GOOGLENET_AUX = (4544464, 10)  # PaddleClas's two auxiliary heads (6 layers)


@pytest.mark.parametrize("name", sorted(PADDLE_COUNTS))
def test_state_size_matches_paddleclas(name):
    kwargs = dict(aux_heads=True) if name == "GoogLeNet" else {}
    assert paddle_state_size(name, **kwargs) == PADDLE_COUNTS[name]


def test_googlenet_row_builds_without_aux_heads_and_drops_their_paddle_keys():
    full = PADDLE_COUNTS["GoogLeNet"]
    assert paddle_state_size("GoogLeNet") == (full[0] - GOOGLENET_AUX[0], full[1] - GOOGLENET_AUX[1])
    keys = ["_ince5b._convprj._conv.weight", "_fc_out.weight", "_fc_out.bias", "_conv_o1._conv.weight",
            "_fc_o1.weight", "_out1.bias", "_conv_o2._conv.weight", "_fc_o2.bias", "_out2.weight"]
    assert MODEL_TABLE["GoogLeNet"].paddle_reorder(keys) == keys[:3]


def test_googlenet_has_no_batchnorm_nor_conv_bias():
    with torch.device("meta"):
        model = create_model("GoogLeNet", aux_heads=True)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 + 9 * 6 + 2 and all(c.bias is None for c in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_googlenet_forward_aux_gives_three_logits_and_trains_every_parameter():
    torch.manual_seed(0)
    model = create_model("GoogLeNet", class_num=4, aux_heads=True).train()
    main, aux1, aux2 = model.forward_aux(torch.randn(2, 3, 224, 224))
    assert main.shape == aux1.shape == aux2.shape == (2, 4)
    (main.square().mean() + 0.3 * aux1.square().mean() + 0.3 * aux2.square().mean()).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        x = torch.randn(1, 3, 224, 224)
        assert torch.equal(model.forward_aux(x)[0], model(x))
        model.reset_classifier(3)
        assert [t.shape for t in model.forward_aux(x)] == [(1, 3)] * 3


def test_googlenet_aux_errors_are_named():
    with pytest.raises(ValueError, match="aux_heads=True"):
        create_model("GoogLeNet", class_num=3).forward_aux(torch.randn(1, 3, 224, 224))
    model = create_model("GoogLeNet", class_num=3, aux_heads=True).eval()
    with pytest.raises(ValueError, match="224 px"):
        model.forward_aux(torch.randn(1, 3, 128, 128))


def test_xception_deeplab_dilates_only_its_last_block():
    with torch.device("meta"):
        model = create_model("Xception41_deeplab")
    dilations = [m.dilation for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert dilations[-3:] == [(2, 2)] * 3 and set(dilations[:-3]) == {(1, 1)}


def test_xception_deeplab_reorder_puts_shortcut_first():
    block = "xception_41/entry_flow/block1"
    keys = ["_conv2._bn._variance", f"{block}._conv1._conv1.weight", f"{block}._conv3._bn2._variance",
            f"{block}._short._conv.weight", f"{block}._short._bn._variance", "_exit_flow_1._conv1._conv1.weight",
            "_exit_flow_1._short._conv.weight", "_fc.weight"]
    assert MODEL_TABLE["Xception41_deeplab"].paddle_reorder(keys) == [
        keys[0], keys[3], keys[4], keys[1], keys[2], keys[6], keys[5], keys[7]]


def test_inception_v4_average_pools_exclude_padding_and_bn_eps_is_paddles():
    with torch.device("meta"):
        model = create_model("InceptionV4")
    pools = [m for m in model.modules() if isinstance(m, nn.AvgPool2d)]
    assert len(pools) == 4 + 7 + 3 and not any(p.count_include_pad for p in pools)
    assert {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {1e-5}
    kernels = [m.kernel_size for m in model.stages[2].modules() if isinstance(m, nn.Conv2d)]
    assert kernels == [(1, 1), (3, 3), (1, 1), (7, 1), (1, 7), (3, 3)]  # PaddleClas's stem: 7x1 first


@pytest.mark.parametrize("name, size, width", [("Xception41", 64, 2048), ("Xception71", 64, 2048),
                                               ("InceptionV4", 75, 1536), ("GoogLeNet", 64, 1024)])
def test_own_models_follow_timm_interface(name, size, width):
    torch.manual_seed(0)
    model = create_model(name, class_num=5).train()
    x = torch.randn(2, 3, size, size)
    model(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert model.forward_head(features, pre_logits=True).shape == (2, width)
        assert model.get_classifier().in_features == width
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
    shapes = {}
    modules = dict(model.named_modules())
    hooks = [modules[info["module"]].register_forward_hook(
        lambda _m, _i, out, key=info["module"]: shapes.__setitem__(key, out.shape)) for info in model.feature_info]
    with torch.no_grad():
        model.forward_features(x)
    for hook in hooks:
        hook.remove()
    assert [shapes[info["module"]][1] for info in model.feature_info] == [i["num_chs"] for i in model.feature_info]
    sides = [shapes[info["module"]][-1] for info in model.feature_info]  # valid convs shrink maps a little
    assert all(s <= -(-size // info["reduction"]) for s, info in zip(sides, model.feature_info))
    assert sides == sorted(set(sides), reverse=True)
    assert model.feature_info[-1]["num_chs"] == features.shape[1]


def test_xception71_feature_info_has_one_entry_per_reduction():
    with torch.device("meta"):
        model = create_model("Xception71")
    assert [(i["num_chs"], i["reduction"]) for i in model.feature_info] == [
        (64, 2), (256, 4), (728, 8), (728, 16), (2048, 32)]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="Xception depth"):
        MODEL_TABLE["Xception41"].builder(depth=50)
    with pytest.raises(TypeError, match="unexpected"):
        MODEL_TABLE["InceptionV4"].builder(use_se=True)
