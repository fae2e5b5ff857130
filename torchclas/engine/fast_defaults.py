"""Fast defaults decided by the hardware: the training precision and the memory layout.

``Global.precision: auto`` (the default when the config has no ``AMP`` section) picks

- on CUDA: bfloat16 autocast where the GPU has it, else float16 with dynamic loss scaling;
- on CPU: bfloat16 autocast when the CPU has ``amx_bf16`` or ``avx512_bf16`` *and* a short probe
  (a 3×3 convolution forward + backward, with the run's threads) runs clearly faster in bfloat16
  than in float32 — on a busy or hyper-threaded machine the bf16 kernels can be slower, and then
  float32 stays; else float32.

``Global.channels_last: auto`` (the default) uses channels_last for convolutional nets (at least
``MIN_CONVS`` ``Conv2d`` layers), where oneDNN and cuDNN run convolutions faster in NHWC.
Every decision is logged with its reason; a resumed run keeps the precision it started with.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from torch import nn

from ..config.schema import AMPConfig, Config

__all__ = ["cpu_flags", "bf16_probe", "resolve_precision", "is_conv_net", "MIN_CONVS", "PROBE_MIN_SPEEDUP"]

log = logging.getLogger("torchclas")

MIN_CONVS = 4
PROBE_MIN_SPEEDUP = 1.2  # bf16 must beat fp32 by this much: the probe is a proxy for the model
_AMP = {"bf16": "bfloat16", "fp16": "float16"}


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def bf16_probe(repeats: int = 3) -> tuple[float, float]:
    """Median seconds of one 3×3 convolution forward + backward (batch 16, 64 channels, 28×28,
    channels_last) in float32 and under bfloat16 autocast, with torch's current threads."""
    conv = nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(16, 64, 28, 28).contiguous(memory_format=torch.channels_last).requires_grad_()
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats + 1):  # the first round builds the kernels
        for bf16 in (False, True):
            began = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = conv(x)
            out.float().sum().backward()
            times[bf16].append(time.perf_counter() - began)
    fp32, bf16 = (sorted(times[k][1:])[repeats // 2] for k in (False, True))
    return fp32, bf16


def resolve_precision(cfg: Config, device: torch.device, recorded: str | None = None) -> tuple[Config, str]:
    """``cfg`` with ``Global.precision`` decided and ``AMP`` set to match, and why.

    An ``AMP`` section wins (a PaddleClas config says what it wants); ``recorded`` is the
    precision of the checkpoint a run resumes from.
    """
    choice = cfg.Global.precision
    if cfg.AMP is not None:
        choice = "fp32" if not cfg.AMP.use_amp else ("fp16" if cfg.AMP.dtype == "float16" or (
            cfg.AMP.dtype == "auto" and device.type == "cuda") else "bf16")
        return _with(cfg, choice, keep_amp=True), "from the AMP section"
    if choice != "auto":
        return _with(cfg, choice), "Global.precision"
    if recorded in ("fp32", "bf16", "fp16"):
        return _with(cfg, recorded), "as in the checkpoint this run resumes"
    choice, why = _auto_precision(device)
    return _with(cfg, choice), why


def _auto_precision(device: torch.device) -> tuple[str, str]:
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "the GPU has bfloat16"
        return "fp16", "the GPU has no bfloat16: float16 with dynamic loss scaling"
    flags = cpu_flags() & {"amx_bf16", "avx512_bf16"}
    if not flags:
        return "fp32", "the CPU has neither amx_bf16 nor avx512_bf16"
    fp32, bf16 = bf16_probe()
    probe = (f"probe conv fwd+bwd {1000 * bf16:.1f} ms bf16 vs {1000 * fp32:.1f} ms fp32 "
             f"on {torch.get_num_threads()} thread(s)")
    if fp32 / bf16 >= PROBE_MIN_SPEEDUP:
        return "bf16", f"the CPU has {'/'.join(sorted(flags))}; {probe}"
    return "fp32", f"the CPU has {'/'.join(sorted(flags))} but bf16 is not faster here; {probe}"


def _with(cfg: Config, precision: str, keep_amp: bool = False) -> Config:
    glob = cfg.Global.model_copy(update={"precision": precision})
    if keep_amp:
        return cfg.model_copy(update={"Global": glob})
    amp = AMPConfig(dtype=_AMP[precision]) if precision in _AMP else None
    return cfg.model_copy(update={"Global": glob, "AMP": amp})


def is_conv_net(net: nn.Module) -> bool:
    """At least ``MIN_CONVS`` ``Conv2d`` layers: a net that channels_last speeds up."""
    return sum(isinstance(m, nn.Conv2d) for m in net.modules()) >= MIN_CONVS
