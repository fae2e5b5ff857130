"""Facts about this machine's CPU that speed decisions read (``/proc/cpuinfo`` flags)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BF16_FLAGS", "cpu_flags", "cpu_has_bf16"]

BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})  # CPU flags of native bfloat16 arithmetic


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


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 bf16 or AMX), read from /proc/cpuinfo.

    Example:
        >>> isinstance(cpu_has_bf16(), bool)
        True
    """
    return bool(cpu_flags() & BF16_FLAGS)
