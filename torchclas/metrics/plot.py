"""The confusion matrix as a PNG (matplotlib, no display needed): the whole matrix up to
``MAX_MATRIX_CLASSES`` classes, the most confused class pairs beyond."""

from __future__ import annotations

from pathlib import Path

import torch

from .confusion import top_confusions

__all__ = ["plot_confusion_matrix", "MAX_MATRIX_CLASSES"]

MAX_MATRIX_CLASSES = 100
_ANNOTATE_UP_TO = 20  # counts written in the cells up to this many classes


def plot_confusion_matrix(counts: torch.Tensor, names: list[str], path: str | Path, title: str = "",
                          top: int = 40) -> Path:
    """Draw ``counts[true, predicted]`` to the PNG ``path``; returns it.

    Up to `MAX_MATRIX_CLASSES` classes: the matrix, each row as fractions of its class's images
    (so rare classes read as clearly as common ones), class names on both axes and, up to 20
    classes, the counts in the cells. Beyond: a bar chart of the ``top`` most confused
    ``true -> predicted`` pairs.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "confusion_matrix.png"
        >>> plot_confusion_matrix(torch.tensor([[3, 1], [0, 2]]), ["cat", "dog"], out) == out
        True
    """
    from matplotlib.figure import Figure

    classes = counts.shape[0]
    if classes <= MAX_MATRIX_CLASSES:
        side = min(max(5.0, 0.16 * classes + 3.0), 22.0)
        figure = Figure(figsize=(side + 1.2, side), dpi=100)
        _draw_matrix(figure.add_subplot(), figure, counts, names, cell_points=0.5 * 72 * side / classes)
    else:
        cells = top_confusions(counts, top)
        figure = Figure(figsize=(9, max(3.0, 0.28 * len(cells) + 1.5)), dpi=100)
        _draw_pairs(figure.add_subplot(), cells, counts, names)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _draw_matrix(axes, figure, counts: torch.Tensor, names: list[str], cell_points: float) -> None:
    classes = counts.shape[0]
    counts = counts.to(torch.float64)
    rows = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
    image = axes.imshow(rows.numpy(), cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of the true class's images")
    fontsize = max(4.0, min(10.0, cell_points))  # a label about as tall as its row
    ticks = list(range(classes))
    axes.set_xticks(ticks, labels=names, rotation=90, fontsize=fontsize)
    axes.set_yticks(ticks, labels=names, fontsize=fontsize)
    axes.set(xlabel="predicted class", ylabel="true class")
    if classes <= _ANNOTATE_UP_TO:
        for i in range(classes):
            for j in range(classes):
                if counts[i, j] > 0:
                    axes.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=fontsize,
                              color="white" if rows[i, j] > 0.5 else "black")
    total = counts.sum()
    accuracy = float(counts.diagonal().sum() / total) if total > 0 else 0.0
    axes.set_title(f"confusion matrix: {int(total)} images, top-1 {100 * accuracy:.2f}%", fontsize=10)


def _draw_pairs(axes, cells: list[tuple[int, int, int]], counts: torch.Tensor, names: list[str]) -> None:
    images = counts.sum(dim=1)
    labels = [f"{names[t]} -> {names[p]}" for t, p, _ in cells]
    values = [n for _, _, n in cells]
    positions = list(range(len(cells)))[::-1]  # the largest on top
    axes.barh(positions, values, color="tab:blue")
    axes.set_yticks(positions, labels=labels, fontsize=8)
    for y, (t, _, n) in zip(positions, cells):
        axes.text(n, y, f" {n} ({100 * n / max(int(images[t]), 1):.0f}% of {names[t]})", va="center", fontsize=7)
    axes.set_xlabel("images of the true class predicted as the other")
    axes.set_title(f"the {len(cells)} most confused class pairs of {counts.shape[0]} classes "
                   "(true -> predicted)", fontsize=10)
    if not cells:
        axes.text(0.5, 0.5, "no image was misclassified", transform=axes.transAxes, ha="center")
