"""Inference speed of table models: latency and throughput per batch size, torch and onnxruntime.

Each model is built with random weights at ``class_num=1000``, folded for inference
(:func:`~torchclas.zoo.analysis.deploy_form`: RepVGG branches become one conv) and put in
eval mode. Per backend and batch size it runs ``warmup`` untimed passes, then times up to
``repeats`` passes one by one (stopping early once ``max_seconds`` are spent and 3 passes are
timed); latency is the median pass, throughput ``batch / latency``.

    torchclas benchmark PPLCNet_x1_0 ResNet50_vd --batch 1 16 --threads 4 --out results.csv

Columns: ``params`` and ``flops`` of the folded model at the benchmark size (FLOPs as PaddleClas
counts them: multiply-accumulates per image), ``latency_ms``, ``throughput`` (images/s) and
``achieved_gflops`` (``2 x flops x batch / latency``: floating-point operations per second, the
unit of a processor's peak, so it compares with the hardware).
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..models import MODEL_TABLE, create_model
from .analysis import count_flops, count_params, deploy_form

__all__ = ["BACKENDS", "BenchmarkRow", "time_passes", "benchmark_model", "benchmark_models", "write_csv",
           "read_csv", "rows_table"]

BACKENDS = ("torch", "onnxruntime")


@dataclass
class BenchmarkRow:
    """One (model, backend, batch size) measurement; a failed one has ``error`` set."""

    model: str
    family: str
    backend: str
    device: str
    batch: int
    size: int
    threads: int
    params: int
    flops: int
    latency_ms: float | None = None
    latency_min_ms: float | None = None
    throughput: float | None = None
    achieved_gflops: float | None = None
    repeats: int = 0
    error: str = ""


def time_passes(run: Callable[[], Any], warmup: int, repeats: int, max_seconds: float = 30.0,
                sync: Callable[[], None] | None = None) -> list[float]:
    """Seconds of each timed call of ``run`` after ``warmup`` untimed ones.

    Timing stops after ``repeats`` calls, or earlier once ``max_seconds`` have been spent and
    at least 3 calls (or ``repeats`` if fewer) are timed.

    Args:
        run: the pass to time.
        warmup: untimed calls first (allocator, kernel selection, onnxruntime's first run).
        repeats: at most this many timed calls.
        max_seconds: time budget of the timed calls.
        sync: called before reading the clock (``torch.cuda.synchronize`` on a GPU).

    Example:
        >>> len(time_passes(lambda: None, warmup=1, repeats=5))
        5
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        run()
    sync()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats and not (spent > max_seconds and len(times) >= min(3, repeats)):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return times


def _torch_runner(model: torch.nn.Module) -> Callable[[torch.Tensor], Callable[[], Any]]:
    def runner(x: torch.Tensor) -> Callable[[], Any]:
        def run() -> Any:
            with torch.inference_mode():
                return model(x)
        return run
    return runner


def _onnxruntime_runner(model: torch.nn.Module, example: torch.Tensor, folder: str, threads: int,
                        device: str) -> Callable[[torch.Tensor], Callable[[], Any]]:
    """Export ``model`` once (dynamic batch) and open one session for every batch size."""
    from ..export import MIN_OPSET, torch_to_onnx
    from ..inference.sessions import onnxruntime_providers, onnxruntime_session

    runtime_device = "cuda" if device.startswith("cuda") else "cpu"
    onnxruntime_providers(runtime_device)  # a missing provider fails before the export
    path = str(Path(folder) / "model.onnx")
    torch_to_onnx(model.cpu(), example.cpu(), path, MIN_OPSET)
    model.to(device)
    session = onnxruntime_session(path, threads=threads, device=runtime_device)

    def runner(x: torch.Tensor) -> Callable[[], Any]:
        feed = {"x": x.cpu().numpy()}
        return lambda: session.run(["logits"], feed)
    return runner


def _summary(row: BenchmarkRow, times: list[float]) -> None:
    median = statistics.median(times)
    row.latency_ms = 1000 * median
    row.latency_min_ms = 1000 * min(times)
    row.throughput = row.batch / median
    row.achieved_gflops = 2 * row.flops * row.batch / median / 1e9
    row.repeats = len(times)


def benchmark_model(name: str, batches: Iterable[int] = (1,), size: int | None = None,
                    backends: Iterable[str] = BACKENDS, threads: int | None = None, warmup: int = 5,
                    repeats: int = 20, max_seconds: float = 30.0, device: str = "cpu") -> list[BenchmarkRow]:
    """Measure one model on each backend and batch size.

    A backend that fails (an op onnxruntime lacks, an export error) gives rows with ``error``
    set; the other measurements still run.

    Args:
        name: a name of ``MODEL_TABLE``.
        batches: batch sizes.
        size: square input side; default the row's input size.
        backends: from :data:`BACKENDS`.
        threads: CPU threads of both backends; default torch's current setting.
        warmup, repeats, max_seconds: see :func:`time_passes`.
        device: ``"cpu"`` or ``"cuda"`` (onnxruntime then needs its CUDA provider).

    Example:
        >>> rows = benchmark_model("PPLCNet_x0_25", batches=[1], size=64, repeats=3)  # doctest: +SKIP
        >>> [(r.backend, r.batch) for r in rows]  # doctest: +SKIP
        [('torch', 1), ('onnxruntime', 1)]
    """
    entry = MODEL_TABLE[name]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown backend(s) {sorted(unknown)}; choose from {list(BACKENDS)}")
    channels = entry.input_size[0]
    size = size or entry.input_size[-1]
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    model = deploy_form(create_model(name, class_num=1000).eval()).eval()
    params, flops = count_params(model), count_flops(model, (channels, size, size))
    model = model.to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    generator = torch.Generator().manual_seed(0)
    rows: list[BenchmarkRow] = []
    with tempfile.TemporaryDirectory(prefix="torchclas-bench-") as folder:
        for backend in backends:
            runner, error = None, ""
            try:
                runner = (_torch_runner(model) if backend == "torch" else
                          _onnxruntime_runner(model, torch.zeros(1, channels, size, size), folder, threads, device))
            except Exception as exc:  # noqa: BLE001 - one backend failing must not lose the others
                error = _one_line(exc)
            for batch in batches:
                row = BenchmarkRow(name, entry.family, backend, device, batch, size, threads, params, flops,
                                   error=error)
                rows.append(row)
                if runner is None:
                    continue
                x = torch.randn(batch, channels, size, size, generator=generator).to(device)
                try:
                    _summary(row, time_passes(runner(x), warmup, repeats, max_seconds, sync))
                except Exception as exc:  # noqa: BLE001 - e.g. out of memory at the largest batch
                    row.error = _one_line(exc)
    return rows


def _one_line(exc: Exception) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def benchmark_models(names: Iterable[str], out: str | Path | None = None,
                     progress: Callable[[BenchmarkRow], None] | None = None,
                     **options: Any) -> list[BenchmarkRow]:
    """Benchmark several models; write the CSV after each model when ``out`` is set.

    Args:
        names: names of ``MODEL_TABLE``; all are checked before any is measured.
        out: CSV path (rewritten after every model, so an interrupted run keeps what it measured).
        progress: called with each finished row.
        **options: passed to :func:`benchmark_model`.
    """
    names = list(names)
    missing = [n for n in names if n not in MODEL_TABLE]
    if missing:
        from ..config.errors import closest

        raise ValueError("; ".join(f"unknown model '{n}'{closest(n, MODEL_TABLE)}" for n in missing))
    rows: list[BenchmarkRow] = []
    for name in names:
        measured = benchmark_model(name, **options)
        rows.extend(measured)
        for row in measured:
            if progress:
                progress(row)
        if out:
            write_csv(rows, out)
    return rows


def write_csv(rows: list[BenchmarkRow], path: str | Path) -> None:
    """Write benchmark rows to ``path`` (header = :class:`BenchmarkRow`'s fields)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(BenchmarkRow)])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in asdict(row).items()})


def rows_table(rows: list[BenchmarkRow], title: str = "benchmark"):
    """A rich table of benchmark rows, for the CLI and bench scripts."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("model", "backend", "batch", "size", "params (M)", "GFLOPs", "latency (ms)",
                   "img/s", "GFLOP/s"):
        table.add_column(column, justify="left" if column in ("model", "backend") else "right")
    for r in rows:
        measured = ([f"{r.latency_ms:.2f}", f"{r.throughput:.1f}", f"{r.achieved_gflops:.1f}"]
                    if not r.error else [f"[red]{r.error[:60]}[/red]", "", ""])
        table.add_row(r.model, r.backend, str(r.batch), str(r.size), f"{r.params / 1e6:.2f}",
                      f"{r.flops / 1e9:.3f}", *measured)
    return table


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a benchmark CSV (or any CSV with a ``model`` column), numbers parsed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: '{path}'")
    with path.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    if records and "model" not in records[0]:
        raise ValueError(f"{path}: no 'model' column (columns: {list(records[0])})")
    return [{k: _number(v) for k, v in record.items()} for record in records]


def _number(value: str | None) -> Any:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number

