"""The classic/GPU-server CNN rows (models/vgg.py, alexnet.py, squeezenet.py, inception.py, darknet.py, densenet.py,
dpn.py, efficientnet.py, pphgnet.py, dla.py, starnet.py) and our own VGG, AlexNet, SqueezeNet.

Parameter counts are PaddleClas's ``sum(p.numel() for p in model.parameters())`` at
class_num=1000, measured in the Paddle venv; Paddle counts BatchNorm statistics as parameters,
so ours is the state dict's element count (without ``num_batches_tracked``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchclas.models import MODEL_TABLE, create_model
from torchclas.models.layers.downscale_dropout import DownscaleInInferDropout
from tests.conftest import paddle_state_size

PADDLE_COUNTS = {  # name: (elements, tensors) of PaddleClas's state dict at class_num=1000
    "VGG16": (138353320, 19), "AlexNet": (61100840, 16), "SqueezeNet1_1": (1235496, 52),
    "InceptionV3": (23869000, 472), "DarkNet53": (41645640, 262), "CSPDarkNet53": (27677512, 337),
    "DenseNet264": (33736232, 1326), "DPN131": (79477864, 676), "EfficientNetB7": (66658680, 1037),
    "EfficientNetB0_small": (4694024, 247), "PPHGNet_base": (71624584, 369), "PPHGNetV2_B6": (75423192, 873),
    "DLA102x2": (41424152, 527), "StarNet_S4": (7496680, 450),
}


@pytest.mark.parametrize("name", sorted(PADDLE_COUNTS))
def test_state_size_matches_paddleclas(name):
    assert paddle_state_size(name) == PADDLE_COUNTS[name]


def test_vgg_convs_have_no_bias_and_linear_head():
    with torch.device("meta"):
        model = create_model("VGG11")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8 and all(c.bias is None for c in convs)
    assert [m.in_features for m in model.modules() if isinstance(m, nn.Linear)] == [25088, 4096, 4096]


def test_darknet53_uses_relu_not_leaky_relu():
    with torch.device("meta"):
        model = create_model("DarkNet53")
    kinds = {type(m) for m in model.modules()}
    assert nn.ReLU in kinds and nn.LeakyReLU not in kinds


@pytest.mark.parametrize("name", ["InceptionV3", "DPN68"])
def test_batchnorm_eps_is_paddles(name):
    with torch.device("meta"):
        model = create_model(name)
    eps = {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert eps == {1e-5}


def test_dpn_classifier_is_linear_and_resets():
    model = create_model("DPN68", class_num=7).eval()
    assert isinstance(model.get_classifier(), nn.Linear) and model.get_classifier().in_features == 832
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (1, 7)
        model.reset_classifier(3)
        assert model(x).shape == (1, 3)
        assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (1, 832)


def test_efficientnet_b0_small_has_no_squeeze_excite():
    with torch.device("meta"):
        small, full = create_model("EfficientNetB0_small"), create_model("EfficientNetB0")
    from timm.models._efficientnet_blocks import SqueezeExcite

    assert not any(isinstance(m, SqueezeExcite) for m in small.modules())
    assert sum(isinstance(m, SqueezeExcite) for m in full.modules()) == 16


def test_squeezenet_pools_round_down():
    model = create_model("SqueezeNet1_0", class_num=10).eval()
    with torch.no_grad():
        features = model.forward_features(torch.randn(1, 3, 224, 224))
    assert features.shape == (1, 512, 12, 12)  # ceil-mode pools (torchvision) give 13x13


@pytest.mark.parametrize("name, width", [("VGG11", 4096), ("AlexNet", 4096), ("SqueezeNet1_1", 512)])
def test_own_models_follow_timm_interface(name, width):
    model = create_model(name, class_num=5).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (1, 5)
        features = model.forward_features(x)
        pre = model.forward_head(features, pre_logits=True)
        assert pre.shape[:2] == (1, width)
        classifier = model.get_classifier()
        assert (classifier.in_features if isinstance(classifier, nn.Linear) else classifier.in_channels) == width
        model.reset_classifier(3)
        assert model(x).shape == (1, 3)
    modules = dict(model.named_modules())
    assert all(info["module"] in modules for info in model.feature_info)
    assert model.feature_info[-1]["num_chs"] == features.shape[1]


def test_own_models_train_every_parameter():
    model = create_model("SqueezeNet1_1", class_num=4).train()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_downscale_in_infer_dropout():
    layer = DownscaleInInferDropout(0.25)
    x = torch.ones(1000)
    assert torch.equal(layer.eval()(x), torch.full((1000,), 0.75))
    out = layer.train()(x)
    assert set(out.unique().tolist()) <= {0.0, 1.0} and 0.6 < out.mean().item() < 0.9
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        DownscaleInInferDropout(1.0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="VGG depth"):
        MODEL_TABLE["VGG11"].builder(depth=12)
    with pytest.raises(ValueError, match="SqueezeNet version"):
        MODEL_TABLE["SqueezeNet1_0"].builder(version="2.0")
