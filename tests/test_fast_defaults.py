"""Fast defaults: the precision and layout a run picks from the hardware, and keeps on resume."""

from __future__ import annotations

import logging
import os

import pytest
import torch
import yaml

from torchclas.configure import load_config
from torchclas.config.schema import AMPConfig
from torchclas.engine import fast_defaults, train
from torchclas.engine.fast_defaults import conv_probe, resolve_precision
from torchclas.models.layout import is_conv_net
from torchclas.models import create_model
from torchclas.testing.tiny import tiny_config_dict

CPU = torch.device("cpu")


def _cfg(tmp_path, tiny_data, **globals_):
    cfg = tiny_config_dict(tiny_data, tmp_path / "out", epochs=1)
    cfg["Global"].update(globals_)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path)


@pytest.mark.parametrize("precision, dtype", [("fp32", None), ("bf16", "bfloat16"), ("fp16", "float16")])
def test_explicit_precision_sets_amp(tmp_path, tiny_data, precision, dtype):
    cfg, why = resolve_precision(_cfg(tmp_path, tiny_data, precision=precision), CPU)
    assert cfg.Global.precision == precision and why == "Global.precision"
    assert (cfg.AMP.dtype if cfg.AMP else None) == dtype


def test_an_amp_section_wins(tmp_path, tiny_data):
    cfg = _cfg(tmp_path, tiny_data, precision="auto").model_copy(update={"AMP": AMPConfig(dtype="float16")})
    resolved, why = resolve_precision(cfg, CPU)
    assert resolved.Global.precision == "fp16" and resolved.AMP.dtype == "float16"
    assert why == "from the AMP section"
    off = cfg.model_copy(update={"AMP": AMPConfig(use_amp=False)})
    assert resolve_precision(off, CPU)[0].Global.precision == "fp32"


def test_auto_without_bf16_hardware_is_fp32(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setattr(fast_defaults, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    cfg, why = resolve_precision(_cfg(tmp_path, tiny_data, precision="auto"), CPU)
    assert cfg.Global.precision == "fp32" and cfg.AMP is None
    assert why == "the CPU has neither amx_bf16 nor avx512_bf16"


def _probe(times: dict):
    """A stand-in for conv_probe: seconds by (threads, bf16)."""
    return lambda threads, bf16: times[(threads, bf16)]


@pytest.mark.parametrize("times, expected", [({(1, False): 0.030, (1, True): 0.012}, "bf16"),
                                             ({(1, False): 0.030, (1, True): 0.029}, "fp32")])
def test_auto_with_bf16_hardware_follows_the_probe(tmp_path, tiny_data, monkeypatch, times, expected):
    monkeypatch.setattr(fast_defaults, "cpu_flags", lambda: frozenset({"amx_bf16", "avx512_bf16"}))
    monkeypatch.setattr(fast_defaults, "conv_probe", _probe(times))
    cfg, why = resolve_precision(_cfg(tmp_path, tiny_data, precision="auto"), CPU)
    assert cfg.Global.precision == expected
    assert "the CPU has amx_bf16/avx512_bf16" in why and "probe conv fwd+bwd" in why
    assert (cfg.AMP is not None) == (expected == "bf16")


@pytest.mark.parametrize("precision", ["auto", "fp32"])
def test_unset_threads_are_probed_too(tmp_path, tiny_data, monkeypatch, precision):
    """The busy-neighbour case: two threads slower than one, bf16 most of all."""
    monkeypatch.setattr(fast_defaults, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setattr(fast_defaults, "conv_probe", _probe({(1, False): 0.030, (2, False): 0.040,
                                                             (1, True): 0.012, (2, True): 0.300}))
    cfg, why = resolve_precision(_cfg(tmp_path, tiny_data, precision=precision, num_threads=None), CPU,
                                 max_threads=2)
    assert cfg.Global.num_threads == 1
    assert cfg.Global.precision == ("bf16" if precision == "auto" else "fp32")
    assert "on 2 thread(s)" in why and "on 1 thread(s)" in why


def test_recorded_precision_and_threads_are_kept(tmp_path, tiny_data):
    cfg, why = resolve_precision(_cfg(tmp_path, tiny_data, precision="auto", num_threads=None), CPU,
                                 recorded={"precision": "bf16", "num_threads": 1}, max_threads=2)
    assert cfg.Global.precision == "bf16" and cfg.Global.num_threads == 1
    assert why == "as in the checkpoint this run resumes"


def test_probe_measures_both_precisions():
    assert conv_probe(1, False, repeats=1) > 0 and conv_probe(1, True, repeats=1) > 0


def test_conv_nets_get_channels_last():
    assert is_conv_net(create_model("PPLCNet_x0_25", 3))
    assert not is_conv_net(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 16, 16), torch.nn.Flatten(),
                                               torch.nn.LazyLinear(3)))


def test_a_run_logs_its_choices_and_resumes_with_them(tmp_path, tiny_data, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="torchclas")
    monkeypatch.setattr(fast_defaults, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    monkeypatch.setattr(fast_defaults, "conv_probe", _probe({(1, False): 0.03, (1, True): 0.01}))
    cfg = _cfg(tmp_path, tiny_data, precision="auto", channels_last="auto")
    train(cfg)
    assert "precision bf16, 1 compute thread(s) (the CPU has amx_bf16; probe" in caplog.text
    assert "channels_last on (Global.channels_last: auto; a convolutional net)" in caplog.text
    saved = yaml.safe_load((tmp_path / "out" / "PPLCNet_x0_25" / "config.yaml").read_text())
    assert saved["Global"]["precision"] == "bf16" and saved["AMP"]["dtype"] == "bfloat16"
    # the machine got busy: the probe would now say fp32, but the resumed run keeps bf16
    monkeypatch.setattr(fast_defaults, "conv_probe", _probe({(1, False): 0.01, (1, True): 0.03}))
    caplog.clear()
    train(cfg.model_copy(update={"Global": cfg.Global.model_copy(update={"checkpoints": "auto", "epochs": 2})}))
    assert "precision bf16, 1 compute thread(s) (as in the checkpoint this run resumes)" in caplog.text


class _Timings:
    """A stand-in for ``conv_probe`` whose answers the test changes, counting its calls."""

    def __init__(self, seconds: dict[int, float]):
        self.seconds, self.calls = seconds, 0

    def __call__(self, threads: int, bf16: bool, repeats: int = 3) -> float:
        self.calls += 1
        return self.seconds[threads]


def test_thread_watch_reprobes_a_collapsed_epoch_and_comes_back():
    previous = torch.get_num_threads()
    probe = _Timings({1: 0.05, 2: 0.01})
    watch = fast_defaults.ThreadWatch([1, 2], bf16=True, probe=probe)
    try:
        torch.set_num_threads(2)
        assert watch.after_epoch(100.0) is None and watch.after_epoch(60.0) is None
        assert probe.calls == 0  # on all its threads and not under half the best: no probe
        probe.seconds = {1: 0.01, 2: 0.20}  # another process took a core
        change = watch.after_epoch(30.0)
        assert torch.get_num_threads() == 1 and probe.calls == 2
        assert change.startswith("compute threads 2 -> 1 (the epoch ran at 30.0 img/s, under half of 100.0")
        probe.seconds = {1: 0.01, 2: 0.011}  # not 1.2x faster: stays
        assert watch.after_epoch(45.0) is None and torch.get_num_threads() == 1
        probe.seconds = {1: 0.02, 2: 0.01}  # the core is free again
        assert "1 -> 2 (back to more threads" in watch.after_epoch(45.0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_a_run_whose_threads_were_probed_is_watched(tmp_path, tiny_data, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="torchclas")
    monkeypatch.setattr("torchclas.engine.runtime.os.cpu_count", lambda: 2)
    monkeypatch.setattr(fast_defaults, "cpu_flags", lambda: frozenset())
    probe = _Timings({1: 0.01, 2: 0.05})  # the start: one thread is faster
    monkeypatch.setattr(fast_defaults, "conv_probe", probe)
    previous = torch.get_num_threads()
    raw = tiny_config_dict(tiny_data, tmp_path / "out", epochs=2)
    del raw["Global"]["num_threads"]
    raw["Global"]["precision"] = "auto"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    try:
        from torchclas.engine.trainer import Trainer

        real_epoch = Trainer.train_epoch

        def epoch_then_free_core(*args, **kwargs):
            stats = real_epoch(*args, **kwargs)
            probe.seconds = {1: 0.05, 2: 0.01}
            return stats

        monkeypatch.setattr("torchclas.engine.trainer.Trainer.train_epoch", epoch_then_free_core)
        train(load_config(path))
    finally:
        torch.set_num_threads(previous)
    assert "precision fp32, 1 compute thread(s)" in caplog.text
    assert "compute threads 1 -> 2 (back to more threads" in caplog.text


def test_deterministic_turns_on_deterministic_kernels_and_says_so(tmp_path, tiny_data, monkeypatch, caplog):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        with caplog.at_level(logging.INFO, logger="torchclas"):
            train(_cfg(tmp_path, tiny_data, deterministic=True))
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert "deterministic kernels on" in caplog.text
    finally:  # process-wide switches: leave the other tests as they were
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
