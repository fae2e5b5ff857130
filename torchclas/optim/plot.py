"""The LR curve of a whole run as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..config.schema import LRConfig
from .schedules import lr_at_step

__all__ = ["lr_figure", "plot_lr_curve"]

_MAX_POINTS = 4000


def _sample_steps(epochs: int, steps_per_epoch: int) -> list[int]:
    """Up to ~4000 evenly spaced steps plus both sides of every epoch boundary (sharp stairs)."""
    total = epochs * steps_per_epoch
    stride = max(total // _MAX_POINTS, 1)
    edges = {s for e in range(1, epochs + 1) for s in (e * steps_per_epoch - 1, e * steps_per_epoch)}
    return sorted((set(range(0, total, stride)) | edges | {total - 1}) & set(range(total)))


_MAX_CURVES = 8


def lr_figure(cfg: LRConfig, epochs: int, steps_per_epoch: int, scales: Sequence[float] = (1.0,)) -> Any:
    """The matplotlib ``Figure`` of the run's LR (x in epochs), one curve per distinct ``scale``.

    ``scales`` are the param groups' ``lr_scale`` values (``Arch.lr_mult_list``,
    ``layerwise_decay``): with more than one, each distinct scale gets its own labelled curve
    (up to 8: the largest, the smallest and those between, evenly picked). ReduceOnPlateau
    depends on metrics not known yet: its curve is the LR before any reduction, with a note.

    Example:
        >>> from torchclas.config.schema import LRConfig
        >>> figure = lr_figure(LRConfig(name="Constant", learning_rate=0.1), 2, 10, scales=[0.0, 0.4, 1.0, 1.0])
        >>> [line.get_label() for line in figure.axes[0].lines], round(float(figure.axes[0].lines[1].get_ydata()[0]), 6)
        (['×1', '×0.4', '×0'], 0.04)
    """
    from matplotlib.figure import Figure

    steps = _sample_steps(epochs, max(steps_per_epoch, 1))
    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.add_subplot()
    values = [lr_at_step(cfg, s, epochs, steps_per_epoch) for s in steps]
    x = [s / steps_per_epoch for s in steps]
    shown = _pick(sorted(set(scales), reverse=True))
    if len(shown) <= 1:
        axes.plot(x, [v * (shown[0] if shown else 1.0) for v in values])
    else:
        for scale in shown:
            axes.plot(x, [v * scale for v in values], label=f"×{scale:.4g}")
        axes.legend(title="param group lr_scale", fontsize=7, title_fontsize=7, loc="upper right")
    axes.set(xlabel="epoch", ylabel="learning rate", title=f"Optimizer.lr: {cfg.name}", xlim=(0, epochs))
    axes.grid(alpha=0.3)
    if cfg.name == "ReduceOnPlateau":
        note = (f"the LR before any reduction; x{cfg.param('factor')} once {cfg.param('patience') + 1} "
                f"epochs in a row do not improve (mode {cfg.param('mode')})")
        axes.text(0.98, 0.05, note, transform=axes.transAxes, ha="right", va="bottom", fontsize=8)
    figure.tight_layout()
    return figure


def plot_lr_curve(cfg: LRConfig, epochs: int, steps_per_epoch: int, path: str | Path,
                  scales: Sequence[float] = (1.0,)) -> Path:
    """Draw ``lr_figure`` (the LR of every step, a curve per param-group scale) to the PNG ``path``.

    Example:
        >>> import tempfile
        >>> from torchclas.config.schema import LRConfig
        >>> out = Path(tempfile.mkdtemp()) / "lr.png"
        >>> plot_lr_curve(LRConfig(name="Cosine", learning_rate=0.1, warmup_epoch=1), 5, 100, out) == out
        True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lr_figure(cfg, epochs, steps_per_epoch, scales).savefig(path, format="png")
    return path


def _pick(scales: list[float]) -> list[float]:
    """At most ``_MAX_CURVES`` of ``scales`` (sorted), the first and last always among them."""
    if len(scales) <= _MAX_CURVES:
        return scales
    last = len(scales) - 1
    return [scales[round(i * last / (_MAX_CURVES - 1))] for i in range(_MAX_CURVES)]
