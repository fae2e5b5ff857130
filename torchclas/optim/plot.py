"""The LR curve of a whole run as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from ..config.schema import LRConfig
from .schedules import lr_at_step

__all__ = ["plot_lr_curve"]

_MAX_POINTS = 4000


def _sample_steps(epochs: int, steps_per_epoch: int) -> list[int]:
    """Up to ~4000 evenly spaced steps plus both sides of every epoch boundary (sharp stairs)."""
    total = epochs * steps_per_epoch
    stride = max(total // _MAX_POINTS, 1)
    edges = {s for e in range(1, epochs + 1) for s in (e * steps_per_epoch - 1, e * steps_per_epoch)}
    return sorted((set(range(0, total, stride)) | edges | {total - 1}) & set(range(total)))


def plot_lr_curve(cfg: LRConfig, epochs: int, steps_per_epoch: int, path: str | Path) -> Path:
    """Draw the LR of every step of the run (x in epochs) to the PNG ``path``; returns it.

    ReduceOnPlateau depends on metrics not known yet: its curve is the LR before any
    reduction, with a note saying so.

    Example:
        >>> import tempfile
        >>> from torchclas.config.schema import LRConfig
        >>> out = Path(tempfile.mkdtemp()) / "lr.png"
        >>> plot_lr_curve(LRConfig(name="Cosine", learning_rate=0.1, warmup_epoch=1), 5, 100, out) == out
        True
    """
    from matplotlib.figure import Figure

    steps = _sample_steps(epochs, max(steps_per_epoch, 1))
    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    values = [lr_at_step(cfg, s, epochs, steps_per_epoch) for s in steps]
    axes.plot([s / steps_per_epoch for s in steps], values)
    axes.set(xlabel="epoch", ylabel="learning rate", title=f"Optimizer.lr: {cfg.name}", xlim=(0, epochs))
    axes.grid(alpha=0.3)
    if cfg.name == "ReduceOnPlateau":
        note = (f"the LR before any reduction; x{cfg.param('factor')} once {cfg.param('patience') + 1} "
                f"epochs in a row do not improve (mode {cfg.param('mode')})")
        axes.text(0.98, 0.05, note, transform=axes.transAxes, ha="right", va="bottom", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
