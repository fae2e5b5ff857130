"""Evaluation reports: per-class accuracy (``per_class.json``, ``per_class.csv``) and the
confusion matrix (``confusion_matrix.png``) of an evaluation, written by ``torchclas eval`` and
at the end of training (`EvalReportHook`)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from ..config.schema import Config
from ..inference.metadata import class_names
from ..metrics import ConfusionMatrix, per_class_accuracy, top_confusions
from ..metrics.plot import plot_confusion_matrix
from ..utils.files import atomic_write

__all__ = ["REPORT_FILES", "report_class_names", "write_eval_report", "EvalReportHook"]

log = logging.getLogger("torchclas")

REPORT_FILES = ("per_class.json", "per_class.csv", "confusion_matrix.png")
_CSV_COLUMNS = ("id", "name", "images", "correct", "accuracy", "precision", "confused_with")


def report_class_names(cfg: Config) -> list[str]:
    """The class names of the report: ``Infer.PostProcess.class_id_map_file`` when it holds one
    name per class, else the ids (a file that does not fit is named in a warning).

    Example:
        >>> from torchclas.configure import config_from_dict
        >>> report_class_names(config_from_dict({"Arch": {"name": "ResNet18", "class_num": 2}}))
        ['0', '1']
    """
    try:
        return class_names(cfg)
    except (OSError, ValueError) as exc:
        log.warning("evaluation report: class ids instead of names (%s)", exc)
        return [str(i) for i in range(cfg.class_num)]


def write_eval_report(confusion: ConfusionMatrix, names: list[str], out: str | Path,
                      title: str = "") -> dict[str, Any] | None:
    """Write ``per_class.json``/``per_class.csv``/``confusion_matrix.png`` to ``out``; returns
    ``{"per_class": rows, "files": {name: path}}`` (rows as `metrics.per_class_accuracy`), or
    None when ``confusion`` counted nothing (its ``skipped`` says why, if it skipped).

    ``per_class.json`` also lists ``top_confusions``: the 20 largest ``true -> predicted`` cells.

    Example:
        >>> report = write_eval_report(matrix, ["cat", "dog"], "output/ResNet18")  # doctest: +SKIP
    """
    if confusion.total == 0:
        return None
    out = Path(out)
    counts = confusion.counts
    rows = per_class_accuracy(counts, names)
    pairs = [{"true": names[t], "predicted": names[p], "images": n} for t, p, n in top_confusions(counts, 20)]
    files = {name: out / name for name in REPORT_FILES}
    document = {"images": confusion.total, "per_class": rows, "top_confusions": pairs}
    atomic_write(files["per_class.json"],
                 lambda tmp: Path(tmp).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8"))
    atomic_write(files["per_class.csv"], lambda tmp: _write_csv(tmp, rows))
    plot_confusion_matrix(counts, names, files["confusion_matrix.png"], title=title)
    return {"per_class": rows, "files": {name: str(path) for name, path in files.items()}}


def _write_csv(path: str, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=_CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({key: "" if row[key] is None else row[key] for key in _CSV_COLUMNS} for row in rows)


class EvalReportHook:
    """Hook (rank 0): the report of the last epoch's evaluation (`write_eval_report`, from the
    trainer's ``eval_confusion``) in the run folder once training ends."""

    def __init__(self, out: Path, names: list[str]):
        self.out, self.names = out, names

    def on_eval_end(self, trainer, epoch: int, evaluation: dict | None) -> None:
        """After the last epoch's evaluation: write the report, log where it is."""
        confusion = getattr(trainer, "eval_confusion", None)
        if evaluation is None or epoch != trainer.settings.epochs or confusion is None:
            return
        try:
            report = write_eval_report(confusion, self.names, self.out, title=f"epoch {epoch}, final weights")
        except OSError as exc:  # a full disk must not fail a run whose checkpoints are written
            log.error("could not write the evaluation report in %s: %s", self.out, exc)
            return
        if report is not None:
            log.info("per-class accuracy %s, confusion matrix %s", report["files"]["per_class.csv"],
                     report["files"]["confusion_matrix.png"])
