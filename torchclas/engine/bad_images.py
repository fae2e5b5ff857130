"""``bad_images.txt``: every image a run skipped, one ``epoch<TAB>path<TAB>reason`` line each.

Missing files found when the list was read are written with epoch ``0``. A resumed run drops
the lines of the epochs it redoes, so each epoch is listed once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Sequence

log = logging.getLogger("torchclas")

__all__ = ["BadImageLog"]


class BadImageLog:
    """Appends the skipped images of each epoch to ``path`` (created on the first one)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, epoch: int, bad: Iterable[Sequence[str]]) -> None:
        """Record ``(path, reason)`` pairs skipped in ``epoch``."""
        lines = [f"{epoch}\t{path}\t{_one_line(reason)}\n" for path, reason in bad]
        if not lines:
            return
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.writelines(lines)
        except OSError as exc:
            log.error("could not append to %s: %s", self.path, exc.strerror or exc)

    def write_missing(self, missing: Iterable[tuple[int, str]]) -> None:
        """Record files the list names but that do not exist, once (epoch 0)."""
        if not any(line.startswith("0\t") for line in self._lines()):
            self.write(0, [(path, f"missing (list line {number})") for number, path in missing])

    def read(self) -> list[tuple[int, str, str]]:
        """``(epoch, path, reason)`` of every line."""
        return [(int(epoch), path, reason) for epoch, path, reason in
                (line.rstrip("\n").split("\t", 2) for line in self._lines())]

    def truncate_after(self, epoch: int) -> None:
        """Drop the lines of epochs after ``epoch`` (a resumed run writes them again); atomic."""
        from ..utils.files import atomic_write

        if self.path.is_file():
            kept = "".join(line for line in self._lines() if int(line.split("\t", 1)[0]) <= epoch)
            atomic_write(self.path, lambda tmp: Path(tmp).write_text(kept, encoding="utf-8"))

    def _lines(self) -> list[str]:
        """Complete lines only: one torn by a killed run is left out."""
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        return [line for line in lines if line.endswith("\n") and line.count("\t") >= 2
                and line.split("\t", 1)[0].isdigit()]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
