"""Multi-process training with PyTorch's own tools: ``torchrun`` + DistributedDataParallel.

``torchclas train --nproc N`` starts N local processes through torchrun's launcher;
``torchrun --nnodes ... -m torchclas train ...`` works across machines. Each process reads
the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), joins the process
group (gloo on CPU, NCCL on GPU), reads its own shard, and only rank 0 logs and saves.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "init_distributed", "wrap_ddp", "all_reduce_sums", "barrier", "launch",
           "shutdown_distributed"]

log = logging.getLogger("torchclas")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0, the process that logs, evaluates and saves."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def init_distributed(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group torchrun describes in the environment; single process otherwise.

    Returns the process's ``DistInfo`` and its device (``cuda:LOCAL_RANK`` on GPU).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), device
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if not info.is_main:
        logging.getLogger("torchclas").setLevel(logging.WARNING)
    return info, device


def shutdown_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, device: torch.device, info: DistInfo) -> nn.Module:
    """``DistributedDataParallel(model)`` when there are several processes, else ``model``."""
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_sums(values: list[float], device: torch.device, info: DistInfo) -> list[float]:
    """Sum each value over all processes (identity for one process)."""
    if not info.enabled:
        return values
    reduce_on = device if dist.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.tensor(values, dtype=torch.float64, device=reduce_on)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op for one process)."""
    if info.enabled:
        dist.barrier()


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``python -m torchclas <argv>`` in ``nproc`` local processes through torchrun.

    Returns 0 when every process succeeded, 1 otherwise (torchrun reports which failed), and
    128 + the signal number when this launcher was stopped by SIGTERM/SIGINT: torchrun passes
    the signal on, and the processes commit a checkpoint and exit.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    args = ["--standalone", f"--nproc-per-node={nproc}", "-m", "torchclas", *argv]
    log.info("launching %d processes: torchrun %s", nproc, " ".join(args))
    try:
        torchrun(args)
    except ChildFailedError:
        return 1
    except SignalException as exc:
        return 128 + int(exc.sigval)
    return 0
