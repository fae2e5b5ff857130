"""Batch prediction at scale: ``torchclas predict-folder MODEL DIR --out preds.jsonl``.

Images are decoded and preprocessed in worker processes (a torch ``DataLoader``), the model
runs in the main process, and each result is appended to the JSON-lines output as soon as its
batch is done, so a killed run loses at most the batch in flight. ``resume=True`` reads the
output first and skips every image already in it (a half-written last line is dropped).
Unreadable images get an ``error`` line, are listed in the summary, and do not stop the run.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..utils.progress import count_progress
from .inputs import UNREADABLE, ImageInput, list_images, load_input, unreadable_reason
from .predictor import Predictor
from .preprocess import build_preprocess, preprocess_image

__all__ = ["predict_folder", "read_done"]

log = logging.getLogger("torchclas")


class _PreprocessDataset(Dataset):
    """Image paths preprocessed the way ``Predictor.preprocess`` does, in a worker process.

    Holds op lists, not built transforms or sessions, so it pickles for any start method.
    """

    def __init__(self, paths: list[Path], ops_by_key: dict[str, list[dict[str, Any]]],
                 fast_decode_resize: bool = False):
        self.paths = paths
        self.ops_by_key = ops_by_key
        self.fast_decode_resize = fast_decode_resize
        self.transforms: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, dict[str, torch.Tensor] | str]:
        if self.transforms is None:
            self.transforms = {k: build_preprocess(ops, self.fast_decode_resize) for k, ops in self.ops_by_key.items()}
        path = self.paths[index]
        try:
            data = load_input(ImageInput(str(path), path))
            return str(path), {k: preprocess_image(tf, data) for k, tf in self.transforms.items()}
        except UNREADABLE as exc:
            return str(path), unreadable_reason(exc)


def read_done(out: str | Path) -> set[str]:
    """Filenames already in a predict-folder output; a half-written last line is cut off.

    Example:
        >>> read_done("preds.jsonl")  # doctest: +SKIP
        {'images/a.jpg', 'images/b.jpg'}
    """
    out = Path(out)
    if not out.is_file():
        return set()
    raw = out.read_bytes()
    keep = raw.rfind(b"\n") + 1  # everything after the last newline was cut by a kill
    if keep < len(raw):
        log.warning("%s: dropping a half-written last line (%d bytes)", out, len(raw) - keep)
        with open(out, "r+b") as handle:
            handle.truncate(keep)
    done = set()
    for number, line in enumerate(raw[:keep].decode("utf-8").splitlines(), 1):
        if line.strip():
            try:
                done.add(json.loads(line)["filename"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"{out}:{number}: not a predict-folder result line: {line[:80]!r}") from None
    return done


def predict_folder(predictor: Predictor, folder: str | Path, out: str | Path, resume: bool = False,
                   workers: int = 2, progress: bool = True, topk: int | None = None) -> dict[str, Any]:
    """Predict every image under ``folder`` (recursive, sorted) into the JSON-lines file ``out``.

    Args:
        predictor: the model(s) to run; its ``batch_size`` sets the batches.
        folder: the image folder.
        out: the output ``.jsonl``; one ``Predictor.predict`` result per line.
        resume: keep ``out`` and skip the images already in it; without it an existing ``out``
            is an error (nothing is overwritten by accident).
        workers: decoding processes (0: decode in the main process).
        progress: show a progress bar on stderr.
        topk: overrides the predictor's top-k.

    Returns:
        ``{"out", "total", "skipped" (already done), "predicted", "errors": [(filename, error)],
        "seconds", "images_per_second"}``.

    Example:
        >>> predict_folder(Predictor("m.onnx"), "photos/", "preds.jsonl", resume=True)["predicted"]  # doctest: +SKIP
        1200
    """
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: '{folder}'")
    if out.exists() and not resume:
        raise FileExistsError(f"{out} exists; pass --resume to continue it, or choose another --out")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    paths = list_images(folder)
    done = read_done(out) if resume else set()
    todo = [p for p in paths if str(p) not in done]
    errors: list[tuple[str, str]] = []
    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as handle, count_progress("predict", len(todo), progress) as advance:
        for results in _batches(predictor, todo, workers, topk):
            for result in results:
                handle.write(json.dumps(result) + "\n")
                if "error" in result:
                    errors.append((result["filename"], result["error"]))
            handle.flush()
            advance(len(results))
    seconds = time.perf_counter() - start
    return {"out": str(out), "total": len(paths), "skipped": len(paths) - len(todo), "predicted": len(todo),
            "errors": errors, "seconds": seconds, "images_per_second": len(todo) / seconds if seconds else 0.0}


def _batches(predictor: Predictor, paths: list[Path], workers: int, topk: int | None) -> Iterator[list[dict]]:
    if not paths:
        return
    loader = DataLoader(_PreprocessDataset(paths, predictor.preprocess_ops, predictor.fast_decode_resize), batch_size=predictor.batch_size,
                        num_workers=workers, collate_fn=list, multiprocessing_context="spawn" if workers else None,
                        persistent_workers=False, prefetch_factor=4 if workers else None)
    for batch in loader:
        items = [ImageInput(name, Path(name)) for name, _ in batch]
        yield predictor.results_for(items, [x for _, x in batch], topk)
