"""What every layer uses: atomic file writes and facts about the hardware. Imports nothing from torchclas."""

from .files import atomic_write
from .hardware import BF16_FLAGS, cpu_flags, cpu_has_bf16

__all__ = ["atomic_write", "BF16_FLAGS", "cpu_flags", "cpu_has_bf16"]
