"""Run setup shared by train/eval/export: device, threads, seeds, output folder and log file."""

from __future__ import annotations

import logging
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

from ..config.schema import Config

__all__ = ["select_device", "seed_everything", "use_deterministic_kernels", "configure_threads", "run_dir",
           "attach_log_file"]

log = logging.getLogger("torchclas")


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present. ``gpu`` (what every PaddleClas config says) without a GPU
    runs on the CPU with a warning, so a PaddleClas config runs unchanged on a laptop; ``cuda``
    without a GPU is an error.

    Example:
        >>> select_device("cpu")
        device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name in ("gpu", "cuda"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if name == "cuda":
            raise RuntimeError("Global.device is 'cuda' but no CUDA GPU is available; use 'cpu' or 'auto'")
        log.warning("Global.device is 'gpu' but no CUDA GPU is available: running on the CPU "
                    "(set Global.device: cpu or auto to silence this)")
    return torch.device("cpu")


def use_deterministic_kernels() -> None:
    """Same inputs, same bits, on a GPU too (``Global.deterministic``): cuDNN's deterministic
    algorithms and no benchmarking, torch's deterministic kernels where it has them (a warning
    names an op without one) and the cuBLAS workspace setting they need. Slower on a GPU."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def seed_everything(seed: int | None) -> None:
    """Seed Python, numpy and torch (no-op for ``None``)."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_threads(cfg: Config) -> int:
    """Set torch's intra-op threads: ``Global.num_threads``, else this process's share of the
    cores (``LOCAL_WORLD_SIZE`` processes on this machine) minus its loader workers.

    On a small machine, loader workers and compute threads that together exceed the cores
    make every parallel op wait on a descheduled thread (measured 10x slower per conv on
    2 cores), so the default leaves one core per worker.
    """
    threads = cfg.Global.num_threads
    if threads is None:
        workers = cfg.DataLoader.Train.loader.num_workers if cfg.DataLoader.Train else 0
        share = (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        threads = max(1, share - workers)
    torch.set_num_threads(threads)
    return threads


def run_dir(cfg: Config) -> Path:
    """``Global.output_dir/<Arch.name>/``, created, with a clear error when it cannot be."""
    path = Path(cfg.Global.output_dir) / cfg.Arch.name
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise OSError(f"Global.output_dir: cannot write to '{path}': {exc.strerror or exc}") from None
    return path


class RunLogFile(logging.FileHandler):
    """``train.log``: when the disk refuses a write (full, gone) it says so once on stderr and
    stops writing the file, instead of a traceback per record; the terminal log goes on."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            error = sys.exc_info()[1]
            print(f"torchclas: cannot write {self.baseFilename} ({getattr(error, 'strerror', None) or error}); "
                  "logging to the terminal only", file=sys.stderr)

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            pass


def attach_log_file(path: Path) -> logging.Handler:
    """Also write torchclas's log to ``path`` (appending); returns the handler to remove later."""
    handler = RunLogFile(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("torchclas").addHandler(handler)
    return handler
