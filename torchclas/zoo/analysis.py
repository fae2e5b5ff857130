"""Parameter and FLOP counts of the model table, and the ``zoo_stats.json`` file that stores them.

FLOPs follow PaddleClas's model tables (PP-LCNet, PP-HGNet, ``docs/*/models/ImageNet1k``):
a multiply-accumulate counts as ONE FLOP, so ResNet50 is about 4.1 G and PPLCNet_x1_0 161 M.
torch's ``FlopCounterMode`` counts two per multiply-accumulate; we halve it. Only matrix
products and convolutions are counted (as torch, timm and PaddleClas's ``paddle.flops`` tables
do to within about 1%): normalisation, activations and pooling are left out.

Counting builds the model on the ``meta`` device: no memory is allocated and no weight is
initialised, so a 600 M-parameter ViT is counted in seconds. A model whose construction or
forward needs real values (``.tolist()``, data-dependent shapes) falls back to a CPU build.

    python -m torchclas.zoo.analysis --write-stats            # every row
    python -m torchclas.zoo.analysis --write-stats 'PPLCNet*' # recount some rows
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import functools
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import models
from ..models import MODEL_TABLE, ModelEntry
from ..models.reparam import folds_itself, reparameterize_model

__all__ = ["STATS_PATH", "ModelStats", "count_params", "count_flops", "deploy_form", "measure",
           "load_stats", "write_stats", "model_info"]

log = logging.getLogger("torchclas")

STATS_PATH = Path(models.__file__).with_name("zoo_stats.json")  # the model table's data, kept in models/
STATS_CLASS_NUM = 1000


@dataclass(frozen=True)
class ModelStats:
    """Size of one model at ``class_num=1000``.

    Attributes:
        params: number of parameters of the model as built (training form).
        flops: multiply-accumulates of one image at ``input_size`` (PaddleClas's "FLOPs").
        input_size: (C, H, W) the FLOPs were counted at.
        deploy_params: parameters after re-parameterisation (RepVGG-style folding), when it
            changes the count; None otherwise.
        deploy_flops: FLOPs after re-parameterisation, when ``deploy_params`` is set.
    """

    params: int
    flops: int
    input_size: tuple[int, int, int]
    deploy_params: int | None = None
    deploy_flops: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form: None fields are left out, ``input_size`` is a list."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["input_size"] = list(self.input_size)
        return data


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model`` (shared parameters counted once).

    Example:
        >>> count_params(nn.Linear(10, 2))
        22
    """
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_size: tuple[int, ...] = (3, 224, 224), batch: int = 1) -> int:
    """Multiply-accumulates of one forward pass of ``batch`` images (PaddleClas's FLOPs).

    The model runs once in eval mode, on the device of its parameters (``meta`` included:
    nothing is computed there, only shapes). On CPU, attention runs through the math kernel:
    torch's FLOP counter has no formula for the fused CPU attention kernel and would count
    attention as zero.

    Args:
        model: any module taking a ``(batch, *input_size)`` tensor.
        input_size: (C, H, W).
        batch: images per forward pass.

    Example:
        >>> count_flops(nn.Conv2d(3, 8, 3, padding=1), (3, 4, 4))  # 8 * 16 pixels * 27
        3456
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros(batch, *input_size, device=device)
    was_training = model.training
    attention = sdpa_kernel(SDPBackend.MATH) if device.type == "cpu" else contextlib.nullcontext()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad(), attention:
            model.eval()(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def _has_folding(model: nn.Module) -> bool:
    return any(folds_itself(m) for m in model.modules())


def deploy_form(model: nn.Module) -> nn.Module:
    """Fold ``model`` for inference (RepVGG branches, ACNet blocks) and return it.

    The model's own ``reparameterize()`` when it has one, else
    :func:`~torchclas.models.reparam.reparameterize_model` (every sub-module's ``fuse`` / ``reparameterize`` /
    ``switch_to_deploy``); a model with no fold hook is returned unchanged.
    """
    if callable(getattr(type(model), "reparameterize", None)):
        model.reparameterize()
        return model
    return reparameterize_model(model) if _has_folding(model) else model


def _measure_on(entry: ModelEntry, input_size: tuple[int, int, int], device: str) -> ModelStats:
    # Folding creates tensors too: on the meta device they must be created there.
    with torch.device(device):
        model = entry.build(num_classes=STATS_CLASS_NUM)
        params, flops = count_params(model), count_flops(model, input_size)
        if not _has_folding(model):
            return ModelStats(params, flops, input_size)
        model = deploy_form(model)
        deploy_params, deploy_flops = count_params(model), count_flops(model, input_size)
    if (deploy_params, deploy_flops) == (params, flops):
        return ModelStats(params, flops, input_size)
    return ModelStats(params, flops, input_size, deploy_params, deploy_flops)


def measure(name: str, input_size: tuple[int, int, int] | None = None, device: str = "meta") -> ModelStats:
    """Count the parameters and FLOPs of a table row at ``class_num=1000``.

    Args:
        name: a name of ``MODEL_TABLE``.
        input_size: (C, H, W); default the row's ``input_size``.
        device: ``"meta"`` (no memory, no init; falls back to ``"cpu"`` when the model needs
            real values) or ``"cpu"``.

    Example:
        >>> measure("PPLCNet_x1_0").flops  # doctest: +SKIP
        155700480
    """
    if name not in MODEL_TABLE:
        from ..config.errors import closest

        raise ValueError(f"unknown model '{name}'{closest(name, MODEL_TABLE)}")
    entry = MODEL_TABLE[name]
    size = tuple(input_size or entry.input_size)
    if device == "meta":
        try:
            return _measure_on(entry, size, "meta")
        except Exception as exc:  # noqa: BLE001 - any meta failure means: count for real
            log.debug("%s: meta-device count failed (%s: %s); counting on CPU", name, type(exc).__name__, exc)
            device = "cpu"
    return _measure_on(entry, size, device)


@functools.lru_cache(maxsize=1)
def _cached_stats(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    return json.loads(Path(path).read_text())


def load_stats(path: str | Path = STATS_PATH) -> dict[str, ModelStats]:
    """The stored stats, by model name; an empty dict when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return {}
    raw = _cached_stats(str(path), path.stat().st_mtime)
    return {name: ModelStats(**{**data, "input_size": tuple(data["input_size"])}) for name, data in raw.items()}


def write_stats(pattern: str = "*", path: str | Path = STATS_PATH,
                device: str = "meta") -> tuple[dict[str, ModelStats], dict[str, str]]:
    """(Re)count the rows matching ``pattern`` and write the stats file.

    Entries of other rows are kept; entries of names no longer in the table are dropped.

    Args:
        pattern: shell-style pattern over the names (case-insensitive).
        path: the JSON file (default the packaged ``zoo_stats.json``).
        device: see :func:`measure`.

    Returns:
        ``(stats, failures)``: the counts written for the matched rows, and
        ``{name: error}`` for the rows that could not be counted (their old entry is removed).
    """
    names = [n for n in MODEL_TABLE if fnmatch.fnmatch(n.lower(), pattern.lower())]
    if not names:
        raise ValueError(f"no model matches '{pattern}'")
    stored = {n: s for n, s in load_stats(path).items() if n in MODEL_TABLE}
    counted: dict[str, ModelStats] = {}
    failures: dict[str, str] = {}
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        try:
            counted[name] = measure(name, device=device)
        except Exception as exc:  # noqa: BLE001 - a broken row is reported, the others still counted
            failures[name] = f"{type(exc).__name__}: {exc}"
            stored.pop(name, None)
            log.warning("[%d/%d] %s: FAILED %s", i, len(names), name, failures[name])
            continue
        s = counted[name]
        log.info("[%d/%d] %s: %.2f M params, %.3f GFLOPs (%.1f s)", i, len(names), name,
                 s.params / 1e6, s.flops / 1e9, time.perf_counter() - start)
    stored.update(counted)
    # One line per model: the file diffs row by row when the table changes.
    lines = [f"{json.dumps(n)}: {json.dumps(stored[n].to_json())}" for n in MODEL_TABLE if n in stored]
    Path(path).write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return counted, failures


def model_info(name: str, compute_missing: bool = True) -> dict[str, Any]:
    """A row's fields and its stats, as plain values.

    Args:
        name: a name of ``MODEL_TABLE``.
        compute_missing: count a row absent from ``zoo_stats.json`` now (meta device);
            when False its ``params``/``flops`` are None.

    Returns:
        ``{"name", "family", "backend", "input_size", "top1", "note", "params", "flops"}``
        plus ``deploy_params``/``deploy_flops`` for rows that fold for inference.

    Example:
        >>> model_info("ResNet50_vd")["params"]  # doctest: +SKIP
        25576264
    """
    if name not in MODEL_TABLE:
        from ..config.errors import closest

        raise ValueError(f"unknown model '{name}'{closest(name, MODEL_TABLE)}")
    entry = MODEL_TABLE[name]
    stats = load_stats().get(name)
    if stats is not None and tuple(stats.input_size) != tuple(entry.input_size):
        stats = None  # the row's default size changed since the file was written
    if stats is None and compute_missing:
        stats = measure(name)
    info: dict[str, Any] = {"name": name, "family": entry.family, "backend": entry.backend,
                            "input_size": list(entry.input_size), "top1": entry.top1, "note": entry.note,
                            "params": None, "flops": None}
    if stats is not None:
        info.update({k: v for k, v in stats.to_json().items() if k != "input_size"})
    return info


def main(argv: list[str] | None = None) -> int:
    """``python -m torchclas.zoo.analysis --write-stats [PATTERN]``."""
    parser = argparse.ArgumentParser(prog="python -m torchclas.zoo.analysis", description=__doc__.split("\n")[0])
    parser.add_argument("--write-stats", nargs="?", const="*", metavar="PATTERN", required=True,
                        help="recount the rows matching PATTERN (default all) into zoo_stats.json")
    parser.add_argument("--out", default=str(STATS_PATH), help="stats file (default the packaged one)")
    parser.add_argument("--device", default="meta", choices=["meta", "cpu"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    counted, failures = write_stats(args.write_stats, args.out, args.device)
    print(f"wrote {args.out}: {len(counted)} rows counted, {len(failures)} failed")
    for name, error in failures.items():
        print(f"  FAILED {name}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
