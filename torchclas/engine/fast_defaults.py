"""Fast defaults decided by the hardware: the training precision and the memory layout.

``Global.precision: auto`` (the default when the config has no ``AMP`` section) picks

- on CUDA: bfloat16 autocast where the GPU has it, else float16 with dynamic loss scaling;
- on CPU: bfloat16 autocast when the CPU has ``amx_bf16`` or ``avx512_bf16`` *and* a short probe
  (a 3×3 convolution forward + backward) runs clearly faster in bfloat16 than in float32 — on a
  busy or hyper-threaded machine the bf16 kernels can be slower, and then float32 stays; else
  float32. With ``Global.num_threads`` unset the same probe also picks the thread count, 1 or
  the cores left after the loader workers: on a 2-vCPU machine whose other core is busy, two
  threads ran a bf16 conv 25× slower than one.

``Global.channels_last: auto`` (the default) uses channels_last for convolutional nets (at least
``models.layout.MIN_CONVS`` ``Conv2d`` layers), where oneDNN and cuDNN run convolutions faster in NHWC.
Every decision is logged with its reason; a resumed run keeps the precision and threads it
started with (thread counts can change float rounding, so a resume stays bit-exact).

A thread count the probe chose is watched during the run (`ThreadWatch`): when an epoch runs at
under half the speed of the best epoch on that count (another process took a core), or while
the run is on fewer threads than it may use, the probe runs again after the epoch (0.1-0.2 s) and
the run moves to the other count when that is at least ``PROBE_MIN_SPEEDUP`` times faster.
"""

from __future__ import annotations

import logging
import time

import torch
from torch import nn

from ..config.schema import AMPConfig, Config
from ..utils.hardware import BF16_FLAGS, cpu_flags
from .precision import amp_dtype

__all__ = ["conv_probe", "resolve_precision", "PROBE_MIN_SPEEDUP",
           "ThreadWatch", "REPROBE_BELOW"]

log = logging.getLogger("torchclas")

PROBE_MIN_SPEEDUP = 1.2  # bf16 must beat fp32 by this much: the probe is a proxy for the model
REPROBE_BELOW = 0.5  # an epoch under this share of the best speed on its thread count re-probes
_AMP = {"bf16": "bfloat16", "fp16": "float16"}
_NAMES = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def conv_probe(threads: int, bf16: bool, repeats: int = 3) -> float:
    """Median seconds of one 3×3 convolution forward + backward (batch 16, 64 channels, 28×28,
    channels_last) on ``threads`` threads, in float32 or under bfloat16 autocast."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        conv = nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
        x = torch.randn(16, 64, 28, 28).contiguous(memory_format=torch.channels_last).requires_grad_()
        times = []
        for _ in range(repeats + 1):  # the first round builds the kernels
            began = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = conv(x)
            out.float().sum().backward()
            times.append(time.perf_counter() - began)
        return sorted(times[1:])[repeats // 2]
    finally:
        torch.set_num_threads(previous)


def resolve_precision(cfg: Config, device: torch.device, recorded: dict | None = None,
                      max_threads: int | None = None) -> tuple[Config, str]:
    """``cfg`` with ``Global.precision`` decided and ``AMP`` set to match, and (on CPU, when
    ``Global.num_threads`` is unset) ``Global.num_threads`` chosen among 1 and ``max_threads``
    by the same probe; returns the new config and why.

    An ``AMP`` section wins for the precision (a PaddleClas config says what it wants);
    ``recorded`` holds ``precision``/``num_threads`` of the checkpoint a run resumes from.
    """
    recorded = recorded or {}
    threads = cfg.Global.num_threads or recorded.get("num_threads")
    candidates = [1, max_threads] if threads is None and device.type == "cpu" and (max_threads or 1) > 1 else None
    choice, why = _fixed_precision(cfg, device, recorded.get("precision"))
    if choice is None and device.type == "cuda":
        choice, why = _cuda_precision()
    if choice is None:
        flags = cpu_flags() & BF16_FLAGS
        if not flags and candidates is None:
            choice, why = "fp32", "the CPU has neither amx_bf16 nor avx512_bf16"
        else:
            precisions = ("fp32", "bf16") if flags else ("fp32",)
            choice, threads, why = _probe(precisions, candidates or [threads or torch.get_num_threads()], flags)
    elif candidates is not None:
        _, threads, probe_why = _probe((choice,), candidates, frozenset())
        why += f"; {probe_why}"
    resolved = _with(cfg, choice, keep_amp=cfg.AMP is not None)
    if threads is not None and cfg.Global.num_threads is None:
        resolved = resolved.model_copy(update={"Global": resolved.Global.model_copy(update={"num_threads": int(threads)})})
    return resolved, why


def _fixed_precision(cfg: Config, device: torch.device, recorded: str | None) -> tuple[str | None, str]:
    if cfg.AMP is not None:
        return _NAMES[amp_dtype(cfg.AMP, device)], "from the AMP section"
    if cfg.Global.precision != "auto":
        return cfg.Global.precision, "Global.precision"
    if recorded in ("fp32", "bf16", "fp16"):
        return recorded, "as in the checkpoint this run resumes"
    return None, ""


def _cuda_precision() -> tuple[str, str]:
    if torch.cuda.is_bf16_supported():
        return "bf16", "the GPU has bfloat16"
    return "fp16", "the GPU has no bfloat16: float16 with dynamic loss scaling"


def _probe(precisions: tuple[str, ...], thread_counts: list[int], flags: frozenset[str]) -> tuple[str, int, str]:
    """The fastest (precision, threads) by ``conv_probe``; bf16 must beat fp32 by ``PROBE_MIN_SPEEDUP``."""
    times = {(p, t): conv_probe(t, p == "bf16") for p in precisions for t in thread_counts}
    best = {p: min(thread_counts, key=lambda t: times[(p, t)]) for p in precisions}
    choice = precisions[0]
    if "bf16" in precisions and "fp32" in precisions:
        speedup = times[("fp32", best["fp32"])] / times[("bf16", best["bf16"])]
        choice = "bf16" if speedup >= PROBE_MIN_SPEEDUP else "fp32"
    measured = ", ".join(f"{p} {1000 * times[(p, t)]:.1f} ms on {t} thread(s)" for p in precisions for t in thread_counts)
    has = f"the CPU has {'/'.join(sorted(flags))}; " if flags else ""
    slower = "" if choice == "bf16" or "bf16" not in precisions else "bf16 is not faster here; "
    return choice, best[choice], f"{has}{slower}probe conv fwd+bwd: {measured}"


def _with(cfg: Config, precision: str, keep_amp: bool = False) -> Config:
    glob = cfg.Global.model_copy(update={"precision": precision})
    if keep_amp:
        return cfg.model_copy(update={"Global": glob})
    amp = AMPConfig(dtype=_AMP[precision]) if precision in _AMP else None
    return cfg.model_copy(update={"Global": glob, "AMP": amp})


class ThreadWatch:
    """Re-decides the compute thread count between epochs of a CPU run whose count the probe chose.

    Args:
        candidates: the thread counts to choose among (1 and the cores the run may use).
        bf16: probe under bfloat16 autocast (the run's precision).
        probe: ``probe(threads, bf16) -> seconds``; None: `conv_probe`.

    Example:
        >>> watch = ThreadWatch([1, 2], bf16=True, probe=lambda threads, bf16: 0.01)  # counts equally fast
        >>> watch.after_epoch(ips=40.0) is None  # the first epoch sets the reference; no move
        True
    """

    def __init__(self, candidates: list[int], bf16: bool, probe=None):
        self.candidates, self.bf16 = sorted(set(candidates)), bf16
        self.probe = probe if probe is not None else conv_probe
        self.best: dict[int, float] = {}

    def after_epoch(self, ips: float) -> str | None:
        """Note an epoch's images/s; re-probe when it calls for it. Returns what changed, or None."""
        threads = torch.get_num_threads()
        best = self.best.get(threads, 0.0)
        self.best[threads] = max(best, ips)
        slow = best > 0 and ips < REPROBE_BELOW * best
        if not slow and threads >= self.candidates[-1]:
            return None
        times = {t: self.probe(t, self.bf16) for t in self.candidates}
        fastest = min(times, key=times.get)
        if fastest == threads or times.get(threads, float("inf")) < PROBE_MIN_SPEEDUP * times[fastest]:
            return None
        torch.set_num_threads(fastest)
        measured = ", ".join(f"{1000 * times[t]:.1f} ms on {t}" for t in self.candidates)
        why = f"the epoch ran at {ips:.1f} img/s, under half of {best:.1f}" if slow else "back to more threads"
        return f"compute threads {threads} -> {fastest} ({why}; probe conv fwd+bwd: {measured})"
