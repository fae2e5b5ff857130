"""``metrics.jsonl``: one JSON object per epoch and split, appended as the run goes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..utils.files import atomic_write

log = logging.getLogger("torchclas")

__all__ = ["MetricsLog"]


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl`` and flushes it at once.

    Example:
        >>> MetricsLog("out/ResNet18/metrics.jsonl").write({"epoch": 1, "split": "eval", "top1": 0.9})  # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` (e.g. ``{"epoch": 1, "split": "eval", "top1": 0.9, ...}``).

        A full disk is logged, not raised: the run goes on, and a resume rewrites the epochs
        after its checkpoint."""
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
        except OSError as exc:
            log.error("could not append to %s: %s", self.path, exc.strerror or exc)

    def read(self) -> list[dict[str, Any]]:
        """All records written so far (a line torn by a killed run is left out)."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def truncate_after(self, epoch: int) -> None:
        """Drop records of epochs after ``epoch`` (a resumed run rewrites them); atomic."""
        kept = "".join(json.dumps(r) + "\n" for r in self.read() if r.get("epoch", 0) <= epoch)
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(kept, encoding="utf-8"))
