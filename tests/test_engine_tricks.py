"""AMP, gradient accumulation, EMA, auto_scale_lr, torch.compile, SyncBN and multi-process DDP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.conftest import tiny_config_dict
from torchclas.configure import config_from_dict
from torchclas.engine import train
from torchclas.engine.build import build_train_state, global_batch_size, lr_scale_factor
from torchclas.engine.distributed import DistInfo
from torchclas.engine.step import optimizer_step as _optimizer_step
from torchclas.engine.precision import Float32Conv2d, amp_dtype, build_grad_scaler, float32_ops, keep_float32

CPU = torch.device("cpu")
# A ResNet18 shape small enough for a test, with a per-sample norm (LayerNorm2d) so that a
# gradient does not depend on how the batch is split: accumulation and DDP can then match exactly.
SMALL_RESNET = {"name": "ResNet18", "class_num": 3, "channels": [8, 8, 8, 8], "stem_width": 8}


def _config(data: Path, out: Path, epochs: int = 1, per_sample_norm: bool = True, **sections) -> dict:
    cfg = tiny_config_dict(data, out, epochs=epochs)
    cfg["Arch"] = dict(SMALL_RESNET, **({"norm_layer": "layernorm2d"} if per_sample_norm else {}))
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def _weights(out: Path, name: str = "latest") -> dict[str, torch.Tensor]:
    return load_file(out / "ResNet18" / f"{name}.safetensors")


def _assert_close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    assert a.keys() == b.keys()
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert worst <= atol, f"weights differ by {worst}"


# ---------------------------------------------------------------- AMP

def test_amp_dtype_defaults_and_scaler():
    from torchclas.config.schema import AMPConfig

    assert amp_dtype(None, CPU) is None and amp_dtype(AMPConfig(use_amp=False), CPU) is None
    assert amp_dtype(AMPConfig(), CPU) is torch.bfloat16
    assert amp_dtype(AMPConfig(), torch.device("cuda")) is torch.float16
    assert amp_dtype(AMPConfig(dtype="float16"), CPU) is torch.float16
    assert build_grad_scaler(AMPConfig(), torch.bfloat16, CPU) is None
    scaler = build_grad_scaler(AMPConfig(dtype="float16", scale_loss=1024.0), torch.float16, CPU)
    assert scaler.get_scale() == 1024.0


def test_float16_on_cpu_steps_momentum_unfused_so_a_skipped_overflow_leaves_the_weights_alone(tiny_data, tmp_path):
    # torch 2.14.1's fused CPU SGD allocates the momentum buffer on the step the loss scaler
    # skips without filling it, so the next step adds whatever memory held (seen: 7e4, 2e34).
    cfg = config_from_dict(_config(tiny_data, tmp_path, AMP={"dtype": "float16", "scale_loss": 1024.0},
                                   Optimizer={"regularizer": None}))
    assert cfg.Optimizer.name == "Momentum" and cfg.Optimizer.fused is None  # left to us: fused by default
    state = build_train_state(cfg, CPU, DistInfo(), batches_per_epoch=6)
    assert not state.optimizer.defaults.get("fused")
    before = [p.detach().clone() for p in state.net.parameters()]
    for grad in (float("inf"), 1.0):  # an overflow the scaler skips, then one clean step
        lr = state.optimizer.param_groups[0]["lr"]  # warm-up moves it every step
        for param in state.net.parameters():
            param.grad = state.scaler.scale(torch.full_like(param, grad))  # as backward would leave it
        overflow = _optimizer_step(state).overflow
        assert overflow == (grad == float("inf"))
    for old, new in zip(before, state.net.parameters()):
        torch.testing.assert_close(new.detach(), old - lr)  # momentum buffer = the one clean gradient


@pytest.mark.parametrize("amp", [{"level": "O1"}, {"level": "O2"}, {"dtype": "float16"}])
def test_amp_trains_close_to_float32(tiny_data, tmp_path, amp):
    full = train(config_from_dict(_config(tiny_data, tmp_path / "fp32")))
    mixed = train(config_from_dict(_config(tiny_data, tmp_path / "amp", AMP=amp)))
    assert torch.isfinite(torch.tensor(mixed["train"]["loss"]))
    assert abs(mixed["train"]["loss"] - full["train"]["loss"]) < 0.05
    # Master weights stay float32, whatever the level.
    assert all(t.dtype == torch.float32 for t in _weights(tmp_path / "amp").values() if t.is_floating_point())


def test_amp_o2_keeps_low_precision_copy_and_float32_norms(tiny_data, tmp_path):
    cfg = config_from_dict(_config(tiny_data, tmp_path, per_sample_norm=False, AMP={"level": "O2"}))
    state = build_train_state(cfg, CPU, DistInfo(), batches_per_epoch=6)
    low = state.low_precision.module
    assert low.conv1.weight.dtype == torch.bfloat16 and low.fc.weight.dtype == torch.bfloat16
    assert low.bn1.weight.dtype == torch.float32 and state.net.conv1.weight.dtype == torch.float32
    assert state.optimizer.param_groups[0]["params"][0] is next(state.net.parameters())


def test_float32_ops_default_to_depthwise_convs_for_cpu_bf16_only():
    from torchclas.config.schema import AMPConfig

    assert float32_ops(AMPConfig(), CPU) == ["depthwise_conv2d"]
    assert float32_ops(AMPConfig(dtype="float16"), CPU) == []
    assert float32_ops(AMPConfig(dtype="bfloat16"), torch.device("cuda")) == []
    assert float32_ops(AMPConfig(custom_black_list=[]), CPU) == []
    assert float32_ops(AMPConfig(custom_black_list=["conv2d"]), CPU) == ["conv2d"]
    assert float32_ops(None, CPU) == [] and float32_ops(AMPConfig(use_amp=False), CPU) == []
    with pytest.raises(ValueError, match="depthwise_conv2d"):
        AMPConfig(custom_black_list=["relu"])


def test_kept_depthwise_convs_compute_in_float32_with_the_same_state_dict():
    from timm.layers import Conv2dSame

    from torchclas.models import create_model

    torch.manual_seed(0)
    net = create_model("PPLCNet_x0_25", 10)
    keys = list(net.state_dict())
    depthwise = [m for m in net.modules() if type(m) is torch.nn.Conv2d and 1 < m.groups == m.in_channels]
    assert keep_float32(net, ["depthwise_conv2d"]) == len(depthwise) == 13
    assert list(net.state_dict()) == keys and all(type(m) is Float32Conv2d for m in depthwise)
    assert not any(type(m) is Float32Conv2d for m in net.modules() if m not in depthwise)
    layer, x = depthwise[0], torch.randn(2, depthwise[0].in_channels, 16, 16)
    dense_layer = next(m for m in net.modules() if type(m) is torch.nn.Conv2d)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
        dense = dense_layer(torch.randn(2, dense_layer.in_channels, 16, 16))
    assert out.dtype == torch.float32 and dense.dtype == torch.bfloat16
    assert torch.equal(out, torch.nn.functional.conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding,
                                                       layer.dilation, layer.groups))
    same = Conv2dSame(4, 4, 3, groups=4)
    assert keep_float32(same, ["depthwise_conv2d", "conv2d"]) == 0  # its own forward would be lost


def test_amp_run_on_cpu_logs_and_keeps_depthwise_convs(tiny_data, tmp_path, caplog):
    cfg = _config(tiny_data, tmp_path, AMP={"level": "O1"})
    cfg["Arch"] = {"name": "PPLCNet_x0_25", "class_num": 3}
    with caplog.at_level("INFO", logger="torchclas"):
        state = build_train_state(config_from_dict(cfg), CPU, DistInfo(), batches_per_epoch=6)
    assert sum(type(m) is Float32Conv2d for m in state.net.modules()) == 13
    assert "13 depthwise_conv2d layer(s) kept in float32" in caplog.text
    result = train(config_from_dict(cfg))
    assert torch.isfinite(torch.tensor(result["train"]["loss"]))


# ---------------------------------------------------------------- accumulation, EMA, LR scaling

def test_accumulating_k_batches_equals_one_k_times_larger_batch(tiny_data, tmp_path):
    big = _config(tiny_data, tmp_path / "big")
    small = _config(tiny_data, tmp_path / "small", Global={"accum_steps": 2})
    small["DataLoader"]["Train"]["sampler"]["batch_size"] = 4
    train(config_from_dict(big))
    train(config_from_dict(small))
    _assert_close(_weights(tmp_path / "big"), _weights(tmp_path / "small"), atol=1e-5)


def test_ema_follows_its_formula_and_is_what_gets_evaluated(tiny_data, tmp_path):
    decay = 0.8
    cfg = config_from_dict(_config(tiny_data, tmp_path, EMA={"decay": decay, "warmup": False}))
    state = build_train_state(cfg, CPU, DistInfo(), batches_per_epoch=6)
    expected = {k: v.clone() for k, v in state.net.state_dict().items() if v.is_floating_point()}
    for _ in range(3):
        for param in state.net.parameters():
            param.grad = torch.randn_like(param)
        _optimizer_step(state)
        current = state.net.state_dict()
        expected = {k: decay * v + (1 - decay) * current[k] for k, v in expected.items()}
    averaged = state.ema.module.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(averaged[key], value, rtol=1e-5, atol=1e-6)
    assert state.eval_model is state.ema.module


def test_ema_warmup_forgets_the_initial_weights_early():
    from torchclas.engine.ema import ema_decay

    assert [ema_decay(0.9999, n, warmup=True) for n in (1, 10, 90)] == pytest.approx([2 / 11, 11 / 20, 0.91])
    assert ema_decay(0.5, 100, warmup=True) == 0.5 and ema_decay(0.9999, 1, warmup=False) == 0.9999


def test_ema_run_saves_the_average_as_best_model(tiny_data, tmp_path):
    train(config_from_dict(_config(tiny_data, tmp_path, EMA={"decay": 0.5})))
    latest, best = _weights(tmp_path), _weights(tmp_path, "best_model")
    state = torch.load(tmp_path / "ResNet18" / "latest.state.pt", weights_only=True)
    ema = {k.removeprefix("module."): v for k, v in state["modules"]["ema"].items()}
    _assert_close(best, ema, atol=0)
    assert any(not torch.equal(latest[k], best[k]) for k in latest)


def test_auto_scale_lr_uses_the_global_batch(tiny_data, tmp_path):
    raw = _config(tiny_data, tmp_path, Global={"auto_scale_lr": True, "accum_steps": 4})
    raw["Optimizer"]["lr"] = {"name": "Constant", "learning_rate": 0.1}
    cfg = config_from_dict(raw)
    assert global_batch_size(cfg, world_size=2) == 8 * 2 * 4
    assert lr_scale_factor(cfg, world_size=2) == pytest.approx(64 / 256)
    state = build_train_state(cfg, CPU, DistInfo(rank=0, world_size=1), batches_per_epoch=8)
    assert state.lr() == pytest.approx(0.1 * 32 / 256)
    state.scheduler.step()
    assert state.lr() == pytest.approx(0.1 * 32 / 256)


# ---------------------------------------------------------------- compile, SyncBN, DDP

def test_compile_switch_wraps_and_trains(tiny_data, tmp_path):
    # The "eager" backend checks the wiring in a second; inductor's compile time is for bench/.
    result = train(config_from_dict(_config(tiny_data, tmp_path, Global={"compile": "eager"})))
    assert torch.isfinite(torch.tensor(result["train"]["loss"]))
    assert "_orig_mod" not in " ".join(_weights(tmp_path))


def test_sync_bn_on_cpu_with_several_processes_is_a_clear_error(tiny_data, tmp_path):
    cfg = config_from_dict(_config(tiny_data, tmp_path, Global={"sync_bn": True}))
    with pytest.raises(ValueError, match="Global.sync_bn"):
        build_train_state(cfg, CPU, DistInfo(rank=0, world_size=2), batches_per_epoch=6)
    single = build_train_state(cfg, CPU, DistInfo(), batches_per_epoch=6)  # one process: plain BN
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in single.net.modules())


def test_two_process_gloo_ddp_matches_one_process_with_the_same_global_batch(tiny_data, tmp_path):
    one = _config(tiny_data, tmp_path / "one")
    two = _config(tiny_data, tmp_path / "two")
    two["DataLoader"]["Train"]["sampler"]["batch_size"] = 4  # per process: 2 x 4 = 8
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(two))
    done = subprocess.run([sys.executable, "-m", "torchclas", "train", "-c", str(path), "--nproc", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "done:" in done.stdout and done.stdout.count("done:") == 1  # rank 0 reports, once
    train(config_from_dict(one))
    _assert_close(_weights(tmp_path / "one"), _weights(tmp_path / "two"), atol=1e-5)
    lines = (tmp_path / "two" / "ResNet18" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"num_images": 48' in lines[0]  # train stats summed over both ranks


# ---------------------------------------------------------------- LR curve and ReduceOnPlateau in a run

def test_run_draws_lr_curve_and_feeds_reduce_on_plateau(tiny_data, tmp_path):
    raw = _config(tiny_data, tmp_path, epochs=3)
    # An impossible improvement threshold: every epoch after the first is "bad", so with
    # patience 0 the LR halves after epoch 2.
    raw["Optimizer"]["lr"] = {"name": "ReduceOnPlateau", "learning_rate": 0.02, "mode": "min",
                              "factor": 0.5, "patience": 0, "threshold": 100.0, "threshold_mode": "abs"}
    train(config_from_dict(raw))
    run = tmp_path / "ResNet18"
    assert (run / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lrs = [json.loads(line)["lr"] for line in (run / "metrics.jsonl").read_text().splitlines()
           if json.loads(line)["split"] == "train"]
    assert lrs == pytest.approx([0.02, 0.02, 0.01])
