"""Accuracy curves of benchmarked models, as PaddleClas's model docs draw them.

Three PNGs from a ``torchclas benchmark`` CSV: top-1 against latency, against parameters and
against FLOPs; one line per family, its points sorted by x and labelled with the model name.

The accuracy of a model is, first found: its ``top1`` in ``--accuracy FILE`` (a CSV with
``model`` and ``top1`` columns: your own evaluation), a ``top1`` column of the results CSV,
or the row's published PaddleClas ``top1``. Fractions (0.7932) are read as percents (79.32).
Models with no accuracy are left out, and named.

    torchclas plot-zoo results.csv --out plots/
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..models import MODEL_TABLE
from .benchmark import read_csv

__all__ = ["PLOTS", "accuracy_table", "plot_zoo"]

log = logging.getLogger("torchclas")

# file stem -> (x column, axis label, scale applied to the column)
PLOTS = {
    "accuracy_vs_latency": ("latency_ms", "latency (ms)", 1.0),
    "accuracy_vs_params": ("params", "parameters (M)", 1e-6),
    "accuracy_vs_flops": ("flops", "FLOPs (G, multiply-accumulates)", 1e-9),
}


def _percent(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: top1 '{value}' is not a number") from None
    return 100 * number if number <= 1 else number


def accuracy_table(rows: list[dict[str, Any]], accuracy_file: str | Path | None = None) -> dict[str, float]:
    """Top-1 (%) by model name: ``accuracy_file`` first, then the rows' ``top1``, then the table's.

    Args:
        rows: benchmark CSV rows (:func:`~torchclas.zoo.benchmark.read_csv`).
        accuracy_file: optional CSV with ``model`` and ``top1`` columns.
    """
    found: dict[str, float] = {}
    for row in rows:
        name = row["model"]
        if name not in found and name in MODEL_TABLE and MODEL_TABLE[name].top1 is not None:
            found[name] = float(MODEL_TABLE[name].top1)
    for row in rows:
        if row.get("top1") is not None:
            found[row["model"]] = _percent(row["top1"], f"results CSV, model {row['model']}")
    if accuracy_file:
        records = read_csv(accuracy_file)
        if records and "top1" not in records[0]:
            raise ValueError(f"{accuracy_file}: no 'top1' column (columns: {list(records[0])})")
        for record in records:
            if record.get("top1") is not None:
                found[record["model"]] = _percent(record["top1"], f"{accuracy_file}, model {record['model']}")
    return found


def _select(rows: list[dict[str, Any]], backend: str | None, batch: int | None) -> tuple[list[dict[str, Any]], str, int]:
    measured = [r for r in rows if not r.get("error") and r.get("latency_ms") is not None]
    if not measured:
        raise ValueError("the results CSV has no successful measurement (every row has an error)")
    backends = sorted({r["backend"] for r in measured}, key=lambda b: (b != "torch", b))
    backend = backend or backends[0]
    if backend not in backends:
        raise ValueError(f"no '{backend}' rows in the results CSV (backends: {backends})")
    batches = sorted({int(r["batch"]) for r in measured if r["backend"] == backend})
    batch = batch or batches[0]
    if batch not in batches:
        raise ValueError(f"no batch {batch} rows for backend '{backend}' (batches: {batches})")
    chosen = {r["model"]: r for r in measured if r["backend"] == backend and int(r["batch"]) == batch}
    return list(chosen.values()), backend, batch


def _draw(points: dict[str, list[tuple[float, float, str]]], xlabel: str, title: str, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 6), dpi=120, layout="constrained")
    axes = figure.add_subplot()
    for family, family_points in sorted(points.items()):
        family_points.sort()
        xs, ys, names = zip(*family_points)
        axes.plot(xs, ys, marker="o", label=family)
        for x, y, name in family_points:
            axes.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    xs = [x for family_points in points.values() for x, _, _ in family_points]
    if min(xs) > 0 and max(xs) / min(xs) > 50:  # 18 MFLOPs next to 16 GFLOPs: only a log axis shows both
        axes.set_xscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("ImageNet top-1 (%)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path)


def plot_zoo(results_csv: str | Path, out_dir: str | Path = ".", accuracy_file: str | Path | None = None,
             backend: str | None = None, batch: int | None = None) -> dict[str, Path]:
    """Draw the three accuracy curves of a benchmark CSV.

    Args:
        results_csv: written by ``torchclas benchmark --out``.
        out_dir: folder of the PNGs (created).
        accuracy_file: a CSV with ``model`` and ``top1`` columns overriding the accuracies.
        backend: whose latency to plot; default ``torch`` when measured, else the first.
        batch: whose latency to plot; default the smallest batch measured.

    Returns:
        ``{plot name: PNG path}`` for the names of :data:`PLOTS`.

    Example:
        >>> plot_zoo("results.csv", "plots")["accuracy_vs_latency"]  # doctest: +SKIP
        PosixPath('plots/accuracy_vs_latency.png')
    """
    rows = read_csv(results_csv)
    chosen, backend, batch = _select(rows, backend, batch)
    accuracy = accuracy_table(rows, accuracy_file)
    without = sorted(r["model"] for r in chosen if r["model"] not in accuracy)
    if without:
        log.warning("no top-1 accuracy for %s: left out of the plots", ", ".join(without))
    chosen = [r for r in chosen if r["model"] in accuracy]
    if not chosen:
        raise ValueError(f"{results_csv}: no benchmarked model has a top-1 accuracy; "
                         "pass --accuracy FILE (columns model, top1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = chosen[0].get("device", "cpu")
    written: dict[str, Path] = {}
    for stem, (column, xlabel, scale) in PLOTS.items():
        points: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
        for r in chosen:
            family = r.get("family") or (MODEL_TABLE[r["model"]].family if r["model"] in MODEL_TABLE else "other")
            points[family].append((float(r[column]) * scale, accuracy[r["model"]], r["model"]))
        title = (f"top-1 vs latency ({backend}, {device}, batch {batch}, threads {chosen[0].get('threads')})"
                 if column == "latency_ms" else f"top-1 vs {xlabel.split(' (')[0]}")
        written[stem] = out_dir / f"{stem}.png"
        _draw(points, xlabel, title, written[stem])
    return written
