"""The shared rich console (stderr) and a plain counting progress bar, for every layer that draws one.

The training bar with its loss / lr / speed fields is the engine's (``engine/progress.py``);
this one counts items done out of a total (``predict-folder``'s images).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console

__all__ = ["console", "count_progress"]

console = Console(stderr=True, highlight=False)


@contextmanager
def count_progress(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich bar ``description ━━━━ done/total ETA`` on :data:`console`; yields ``advance(n)``.

    Disabled, it draws nothing and ``advance`` does nothing.

    Example:
        >>> with count_progress("predict", 3, enabled=False) as advance:
        ...     advance(3)
    """
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(description, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
