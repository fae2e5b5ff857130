"""PaddleClas Optimizer/LR/Arch/Global keys: clip_norm (and clip_grad, which PaddleClas drops),
AdamWDL and filter_bias_and_bn, the Cyclic schedule, the legacy lr keys, Arch.lr_mult_list and
Global.update_freq; numbers checked by hand."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from tests.conftest import tiny_config_dict
from torchclas.config import ConfigError, ignored_keys, parse_config
from torchclas.config.schema import LRConfig, OptimizerConfig
from torchclas.configure import config_from_dict
from torchclas.engine import train
from torchclas.engine.build import build_train_state
from torchclas.engine.checkpoint import load_checkpoint, save_checkpoint
from torchclas.engine.distributed import DistInfo
from torchclas.engine.step import optimizer_step
from torchclas.models import create_model, param_lr_mults
from torchclas.optim import build_optimizer, clip_grad_by_norm, lr_at_step, lr_figure

CPU = torch.device("cpu")
PULC_MULTS = [0.0, 0.4, 0.4, 0.8, 0.8, 1.0]


def _state(tiny_data, tmp_path, arch=None, **optimizer):
    raw = tiny_config_dict(tiny_data, tmp_path)
    raw["Optimizer"] = {"name": "SGD", "lr": {"name": "Constant", "learning_rate": 0.1}, **optimizer}
    if arch:
        raw["Arch"].update(arch)
    return build_train_state(config_from_dict(raw), CPU, DistInfo(), batches_per_epoch=6)


def _set_grads(net: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    grads = {}
    for name, param in net.named_parameters():
        # empty_like keeps the parameter's layout (channels_last), as backward's gradients do
        param.grad = torch.empty_like(param).copy_(torch.randn(param.shape, generator=gen) * 3)
        grads[name] = param.grad.clone()
    return grads


# ---------------------------------------------------------------- clip_norm / clip_grad

def test_clip_grad_by_norm_scales_each_tensor_over_the_norm_to_it():
    a, b, c = (torch.zeros(n, requires_grad=True) for n in (2, 2, 1))
    a.grad, b.grad, c.grad = torch.tensor([6.0, 8.0]), torch.tensor([0.3, 0.4]), None
    clipped, largest = clip_grad_by_norm([a, b, c], 2.0)
    assert (clipped, largest) == (1, 10.0)
    torch.testing.assert_close(a.grad, torch.tensor([1.2, 1.6]))  # norm 10 -> 2, per tensor (not global)
    torch.testing.assert_close(b.grad, torch.tensor([0.3, 0.4]))  # norm 0.5 < 2: untouched


@pytest.mark.parametrize("amp", [None, {"dtype": "float16", "scale_loss": 1024.0}])
def test_clip_norm_clips_the_unscaled_gradients_before_the_step(tiny_data, tmp_path, amp):
    raw_amp = {"AMP": amp} if amp else {}
    raw = tiny_config_dict(tiny_data, tmp_path)
    raw.update(raw_amp)
    raw["Optimizer"] = {"name": "SGD", "clip_norm": 0.5, "lr": {"name": "Constant", "learning_rate": 0.1}}
    state = build_train_state(config_from_dict(raw), CPU, DistInfo(), batches_per_epoch=6)
    before = {n: p.detach().clone() for n, p in state.net.named_parameters()}
    grads = _set_grads(state.net)
    if state.scaler is not None:  # as backward leaves them under loss scaling
        for param in state.net.parameters():
            param.grad = state.scaler.scale(param.grad)
    report = optimizer_step(state, clip_norm=0.5)
    norms = {n: float(g.norm()) for n, g in grads.items()}
    assert report.clipped == sum(v > 0.5 for v in norms.values()) > 0
    assert report.largest_norm == pytest.approx(max(norms.values()), rel=1e-5)
    for name, param in state.net.named_parameters():
        expected = before[name] - 0.1 * grads[name] * min(1.0, 0.5 / norms[name])
        torch.testing.assert_close(param.detach(), expected, rtol=1e-5, atol=1e-6)


def test_clip_norm_is_counted_per_epoch(tiny_data, tmp_path, caplog):
    raw = tiny_config_dict(tiny_data, tmp_path, epochs=1)
    raw["Optimizer"]["clip_norm"] = 1e-4  # every step clips
    caplog.set_level(logging.INFO, logger="torchclas")
    result = train(config_from_dict(raw))
    assert result["train"]["clipped_steps"] == 6  # 48 images, batch 8
    assert sum("Optimizer.clip_norm 0.0001 clipped" in r.getMessage() for r in caplog.records) == 1


def test_clip_grad_loads_and_is_reported_as_ignored_as_paddleclas_drops_it():
    cfg = parse_config({"Arch": {"name": "ResNet18"}, "Optimizer": {"name": "AdamW", "clip_grad": 5.0}})
    assert cfg.Optimizer.clip_norm is None
    assert [key for key, _ in ignored_keys(cfg)] == ["Optimizer.clip_grad"]
    cfg = parse_config({"Arch": {"name": "ResNet18"}, "Optimizer": {"name": "AdamW", "clip_grad": "None"}})
    assert cfg.Optimizer.clip_grad == "None"


# ---------------------------------------------------------------- AdamWDL, filter_bias_and_bn

class TinyViT(nn.Module):
    """Parameter names as PaddleClas's ViTs (and timm's) have them."""

    def __init__(self, depth: int = 3, dim: int = 4):
        super().__init__()
        self.cls_token = nn.Parameter(torch.ones(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.ones(1, 2, dim))
        self.patch_embed = nn.Linear(dim, dim)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim)) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    def no_weight_decay(self):
        return {"pos_embed", "cls_token"}


def _by_name(model: nn.Module, optimizer) -> dict[str, dict]:
    ids = {id(p): n for n, p in model.named_parameters()}
    return {ids[id(p)]: group for group in optimizer.param_groups for p in group["params"]}


def test_adamwdl_layer_scale_is_decay_to_the_depth_left():
    model, decay, wd = TinyViT(depth=3), 0.5, 0.05
    cfg = OptimizerConfig(name="AdamWDL", weight_decay=wd, layerwise_decay=decay,
                          lr={"name": "Constant", "learning_rate": 0.2})
    groups = _by_name(model, build_optimizer(cfg, model))
    expected = {"cls_token": decay ** 4, "pos_embed": decay ** 4, "patch_embed.weight": decay ** 4,
                "blocks.0.1.weight": decay ** 3, "blocks.1.1.weight": decay ** 2, "blocks.2.1.weight": decay ** 1,
                "blocks.2.0.weight": decay ** 1, "norm.weight": 1.0, "head.weight": 1.0, "head.bias": 1.0}
    for name, scale in expected.items():
        assert groups[name]["lr_scale"] == pytest.approx(scale), name
        assert groups[name]["lr"] == pytest.approx(0.2 * scale), name
    # filter_bias_and_bn (AdamWDL's default): no decay on biases, 1-D norms, no_weight_decay() names
    for name in ("cls_token", "pos_embed", "head.bias", "norm.weight", "blocks.1.0.weight", "patch_embed.bias"):
        assert groups[name]["weight_decay"] == 0.0, name


def test_adamwdl_adam_step_is_layer_scaled_and_its_decay_uses_the_base_lr():
    torch.manual_seed(0)
    model, lr, wd, decay = TinyViT(depth=2), 0.01, 0.1, 0.5
    optimizer = build_optimizer(OptimizerConfig(name="AdamWDL", weight_decay=wd, layerwise_decay=decay,
                                                lr={"name": "Constant", "learning_rate": lr}, fused=False), model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for param in model.parameters():
        param.grad = torch.full_like(param, 0.3)  # first Adam step: m̂/√v̂ = 1 (up to epsilon)
    optimizer.step()
    for name, ratio in (("blocks.0.1.weight", decay ** 2), ("blocks.1.1.weight", decay), ("head.weight", 1.0),
                        ("patch_embed.weight", decay ** 3)):
        p = before[name]
        # PaddleClas: p ← p·(1 − lr·wd) (its own decay, before the layer ratio), then Adam at lr·ratio
        expected = p * (1 - lr * wd) - lr * ratio
        torch.testing.assert_close(dict(model.named_parameters())[name].detach(), expected, rtol=1e-5, atol=1e-7)


def test_adamwdl_without_blocks_names_the_problem():
    cfg = OptimizerConfig(name="AdamWDL", layerwise_decay=0.65)
    with pytest.raises(ValueError, match="has no list of transformer `blocks`"):
        build_optimizer(cfg, nn.Sequential(nn.Linear(2, 2)))


def test_filter_bias_and_bn_on_adamw_gives_bias_and_norm_no_decay():
    model = create_model("ResNet18", class_num=3)
    groups = _by_name(model, build_optimizer(OptimizerConfig(name="AdamW", weight_decay=0.05,
                                                             filter_bias_and_bn=True), model))
    assert groups["conv1.weight"]["weight_decay"] == 0.05 and groups["fc.weight"]["weight_decay"] == 0.05
    for name in ("bn1.weight", "bn1.bias", "layer2.0.bn1.weight", "fc.bias"):
        assert groups[name]["weight_decay"] == 0.0, name
    plain = _by_name(model, build_optimizer(OptimizerConfig(name="AdamW", weight_decay=0.05), model))
    assert plain["bn1.bias"]["weight_decay"] == 0.05  # AdamW's default: off
    with pytest.raises(ValueError, match="'Optimizer.filter_bias_and_bn' is not a key of Momentum"):
        OptimizerConfig(name="Momentum", filter_bias_and_bn=True)


# ---------------------------------------------------------------- Cyclic and the legacy lr keys

def _cyclic(**keys) -> LRConfig:
    return LRConfig(name="Cyclic", base_learning_rate=0.01, max_learning_rate=0.1, step_size_up=4,
                    step_size_down=2, **keys)


@pytest.mark.parametrize("mode, expected", [
    # up 4 steps (+0.0225 each), down 2 (-0.045 each); cycle 2 repeats
    ("triangular", [0.01, 0.0325, 0.055, 0.0775, 0.1, 0.055, 0.01, 0.0325, 0.055, 0.0775, 0.1]),
    # cycle 2 at half the amplitude: peak 0.01 + 0.09 / 2
    ("triangular2", [0.01, 0.0325, 0.055, 0.0775, 0.1, 0.055, 0.01, 0.02125, 0.0325, 0.04375, 0.055]),
])
def test_cyclic_by_step(mode, expected):
    cfg = _cyclic(mode=mode)
    assert [lr_at_step(cfg, s, 10, 10) for s in range(11)] == pytest.approx(expected)


def test_cyclic_exp_range_warmup_and_by_epoch():
    cfg = _cyclic(mode="exp_range", exp_gamma=0.9)
    # step t: 0.01 + 0.09 * height(t) * 0.9 ** t
    assert lr_at_step(cfg, 1, 10, 10) == pytest.approx(0.01 + 0.09 * 0.25 * 0.9)
    assert lr_at_step(cfg, 4, 10, 10) == pytest.approx(0.01 + 0.09 * 0.9 ** 4)
    warm = _cyclic(warmup_epoch=1, warmup_start_lr=0.0)  # 10 warmup steps up to base_learning_rate
    assert [lr_at_step(warm, s, 10, 10) for s in (5, 10, 12)] == pytest.approx([0.005, 0.01, 0.055])
    by_epoch = _cyclic(by_epoch=True)  # step sizes count epochs
    assert [lr_at_step(by_epoch, s, 10, 10) for s in (0, 9, 10, 40)] == pytest.approx([0.01, 0.01, 0.0325, 0.1])


@pytest.mark.parametrize("lr, message", [
    ({"name": "Cyclic", "base_learning_rate": 0.01, "max_learning_rate": 0.1}, "Cyclic needs 'Optimizer.lr.step_size_up'"),
    ({"name": "Cyclic", "base_learning_rate": 0.01, "max_learning_rate": 0.1, "step_size_up": 2, "mode": "max"},
     "'Optimizer.lr.mode' of Cyclic is one of triangular, triangular2, exp_range"),
    ({"name": "ReduceOnPlateau", "mode": "triangular"}, "'Optimizer.lr.mode' of ReduceOnPlateau is one of min, max"),
    ({"name": "Cosine", "exp_gamma": 0.9}, "'Optimizer.lr.exp_gamma' is not a key of Cosine"),
])
def test_cyclic_config_errors(lr, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config({"Arch": {"name": "ResNet18"}, "Optimizer": {"lr": lr}})


def test_step_each_epoch_and_verbose_load_and_are_reported_as_ignored():
    cfg = parse_config({"Arch": {"name": "ResNet18"}, "Optimizer": {"lr": {
        "name": "MultiStepDecay", "learning_rate": 0.1, "milestones": [30, 60], "step_each_epoch": 1,
        "verbose": False, "last_epoch": -1}}})
    keys = [key for key, _ in ignored_keys(cfg)]
    assert keys == ["Optimizer.lr.step_each_epoch", "Optimizer.lr.verbose"]
    # the schedule is that of the loader's steps per epoch, whatever step_each_epoch says
    assert lr_at_step(cfg.Optimizer.lr, 300, 90, 10) == pytest.approx(0.01)


# ---------------------------------------------------------------- Arch.lr_mult_list

def test_lr_mult_list_stage_zero_stays_and_the_head_gets_the_full_lr(tiny_data, tmp_path):
    state = _state(tiny_data, tmp_path, arch={"lr_mult_list": PULC_MULTS})
    stages = {"conv_stem.weight": 0.0, "bn1.bias": 0.0, "blocks.0.0.conv_dw.weight": 0.4,
              "blocks.1.1.conv_pw.weight": 0.4, "blocks.2.0.bn1.weight": 0.8, "blocks.3.5.conv_pw.weight": 0.8,
              "blocks.4.1.conv_pw.weight": 1.0, "conv_head.weight": 1.0, "classifier.weight": 1.0}
    groups = _by_name(state.net, state.optimizer)
    for name, mult in stages.items():
        assert groups[name]["lr"] == pytest.approx(0.1 * mult), name
    before = {n: p.detach().clone() for n, p in state.net.named_parameters()}
    grads = _set_grads(state.net)
    optimizer_step(state)
    after = dict(state.net.named_parameters())
    for name, mult in stages.items():  # plain SGD: p - lr * mult * g
        torch.testing.assert_close(after[name].detach(), before[name] - 0.1 * mult * grads[name])
    assert torch.equal(after["conv_stem.weight"], before["conv_stem.weight"])
    assert state.lr() == pytest.approx(0.1)  # the schedule's LR, not that of the frozen first group


def test_lr_mult_list_stages_of_resnet_vd_and_hgnet_v2():
    mults = param_lr_mults("ResNet18_vd", create_model("ResNet18_vd", class_num=3), [0.1, 0.2, 0.3, 0.4, 0.5])
    assert mults["conv1.0.weight"] == 0.1 and mults["bn1.weight"] == 0.1
    assert mults["layer1.0.conv1.weight"] == 0.2 and mults["layer4.1.bn2.bias"] == 0.5
    assert "fc.weight" not in mults
    hg = param_lr_mults("PPHGNetV2_B0", create_model("PPHGNetV2_B0", class_num=3), [0.0, 1.0, 1.0, 1.0, 0.5])
    assert hg["stem.stem1.conv.weight"] == 0.0 and hg["stages.3.blocks.0.aggregation.1.lab.scale"] == 0.005
    # PaddleClas trains PP-HGNetV2's learnable-affine blocks at lr * 0.01 with or without the list
    plain = param_lr_mults("PPHGNetV2_B0", create_model("PPHGNetV2_B0", class_num=3))
    assert set(plain.values()) == {0.01} and all(".lab." in name for name in plain)


@pytest.mark.parametrize("arch, message", [
    ({"name": "MobileNetV3_small_x0_35", "lr_mult_list": [1.0] * 5}, "PaddleClas's MobileNetV3_small_x0_35 takes no"),
    ({"name": "PPLCNet_x0_25", "lr_mult_list": [1.0] * 5}, "PPLCNet_x0_25 takes 6 multipliers"),
    ({"name": "ResNet50", "lr_mult_list": [1.0, 1.0, 1.0, 1.0, -1.0]}, "multipliers must be >= 0"),
])
def test_lr_mult_list_errors_name_the_key(arch, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"Arch": arch})


def test_lr_mult_list_is_not_a_builder_argument_and_reads_paddleclas_strings():
    cfg = parse_config({"Arch": {"name": "PPLCNet_x0_25", "lr_mult_list": "[0, 0.4, 0.4, 0.8, 0.8, 1]"}})
    assert cfg.Arch.lr_mult_list == PULC_MULTS and cfg.Arch.builder_kwargs == {}


def test_lr_figure_draws_one_curve_per_multiplier(tiny_data, tmp_path):
    state = _state(tiny_data, tmp_path, arch={"lr_mult_list": PULC_MULTS})
    scales = [group["lr_scale"] for group in state.optimizer.param_groups]
    figure = lr_figure(LRConfig(name="Constant", learning_rate=0.1), 1, 6, scales)
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == ["×1", "×0.8", "×0.4", "×0"]
    assert [float(line.get_ydata()[0]) for line in lines] == pytest.approx([0.1, 0.08, 0.04, 0.0])


def test_resume_restores_the_lr_mult_groups_exactly(tiny_data, tmp_path):
    def build():
        return _state(tiny_data, tmp_path, arch={"lr_mult_list": PULC_MULTS}, name="Momentum", momentum=0.9,
                      lr={"name": "Cosine", "learning_rate": 0.1})
    state = build()
    for seed in range(3):
        _set_grads(state.net, seed)
        optimizer_step(state)
    save_checkpoint(tmp_path / "ck", state.net, state.optimizer, state.scheduler, epoch=1)
    fresh = build()
    load_checkpoint(tmp_path / "ck", fresh.net, fresh.optimizer, fresh.scheduler)
    keys = ("lr", "lr_scale", "weight_decay")
    assert [{k: g[k] for k in keys} for g in fresh.optimizer.param_groups] == \
           [{k: g[k] for k in keys} for g in state.optimizer.param_groups]
    assert [len(g["params"]) for g in fresh.optimizer.param_groups] == \
           [len(g["params"]) for g in state.optimizer.param_groups]
    for seed in (5, 6):  # both go on identically, stage 0 still frozen
        for run in (state, fresh):
            _set_grads(run.net, seed)
            optimizer_step(run)
    for (name, a), b in zip(state.net.named_parameters(), fresh.net.parameters()):
        assert torch.equal(a, b), name


# ---------------------------------------------------------------- Global.update_freq

def test_update_freq_is_accum_steps(tiny_data, tmp_path):
    def run(name, **globals_):
        raw = tiny_config_dict(tiny_data, tmp_path / name, epochs=1)
        raw["Global"].update(globals_)
        cfg = config_from_dict(raw)
        train(cfg)
        return cfg, load_file(tmp_path / name / "PPLCNet_x0_25" / "latest.safetensors")
    cfg, freq = run("freq", update_freq=2)
    assert cfg.Global.accum_steps == 2
    _, accum = run("accum", accum_steps=2)
    assert all(torch.equal(freq[k], accum[k]) for k in freq)
    with pytest.raises(ConfigError, match=r"Global.update_freq \(2\) and Global.accum_steps \(3\)"):
        parse_config({"Arch": {"name": "ResNet18"}, "Global": {"update_freq": 2, "accum_steps": 3}})
    assert parse_config({"Arch": {"name": "ResNet18"}, "Global": {"update_freq": 2, "accum_steps": 2}})


def test_update_freq_steps_the_lr_once_per_group(tiny_data, tmp_path):
    raw = tiny_config_dict(tiny_data, tmp_path, epochs=1)
    raw["Global"]["update_freq"] = 4
    state = build_train_state(config_from_dict(raw), CPU, DistInfo(), batches_per_epoch=6)
    assert state.scheduler.steps_per_epoch == math.ceil(6 / 4)


def test_paddleclas_spellings_load_and_a_dumped_cyclic_validates_back():
    cfg = parse_config({"Arch": {"name": "ResNet18"}, "Optimizer": {"name": "Momentum", "clip_norm": 10}})
    assert cfg.Optimizer.clip_norm == 10.0
    lr = _cyclic(mode="exp_range", exp_gamma=0.99, step_each_epoch=5, verbose=True)
    assert LRConfig.model_validate(lr.model_dump(mode="json")) == lr
