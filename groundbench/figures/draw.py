"""Draw an ``explain`` figure (the paper's Figures 3 and 4): one row per checkpoint, four panels per row: the
image with the model's answer, the gradient importance (Eq. 2), the attention and the human importance (Eq. 1),
each painted over the image by figures/overlay.py, with the top proposal outlined and its rank correlation with
the human importance in the panel title. matplotlib's Agg backend: no display needed, same input same pixels."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ..io import atomic_path
from .explanation import Explanation, rank_correlation
from .overlay import grid_to_image, importance_map, top_box

CMAP = "jet"
PANEL_INCHES = 2.5
DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _image_axes(ax, image: np.ndarray, size: tuple[int, int]) -> None:
    """Show ``image`` [H, W, 3] stretched over the boxes' pixel frame (width, height) = ``size``."""
    width, height = size
    ax.imshow(image, extent=(0, width, height, 0), interpolation="bilinear")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def _heat_panel(ax, image: np.ndarray, exp: Explanation, scores: np.ndarray | None, title: str,
                hat_mask: np.ndarray | None = None, shift: bool = False) -> None:
    """The image with ``scores`` [K] painted over it (alpha grows with the heat; ``shift``: signed scores, see
    overlay.shift_to_zero), the top box outlined, the human grid mask outlined (dashed) when given; a grey note
    when ``scores`` is None."""
    from matplotlib.patches import Rectangle

    width, height = exp.image_size
    _image_axes(ax, image, exp.image_size)
    if scores is None:
        ax.imshow(np.full((1, 1, 4), 0.5), extent=(0, width, height, 0))
        ax.text(width / 2, height / 2, "not available", ha="center", va="center", fontsize=9, color="white")
        ax.set_title(title, fontsize=8)
        return
    heat = importance_map(exp.boxes, scores, height, width, exp.mask, shift=shift)
    ax.imshow(heat, cmap=CMAP, vmin=0.0, vmax=1.0, alpha=0.2 + 0.6 * heat, extent=(0, width, height, 0),
              interpolation="nearest")
    if hat_mask is not None and hat_mask.any():
        ax.contour(np.arange(width) + 0.5, np.arange(height) + 0.5,
                   grid_to_image(hat_mask, height, width).astype(float), levels=[0.5], colors="white",
                   linewidths=1.0, linestyles="dashed")
    best = top_box(scores, exp.mask)
    if best is not None:
        x1, y1, x2, y2 = exp.boxes[best]
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="white", linewidth=1.5))
    ax.set_title(title, fontsize=8)


def _rho(exp: Explanation, scores: np.ndarray | None) -> str:
    rho = rank_correlation(scores, exp.human, exp.mask)
    return "" if rho is None else f"\nSpearman vs human {rho:+.2f}"


def _row(axes, image: np.ndarray, label: str, exp: Explanation) -> None:
    mark = "right" if exp.correct else "wrong"
    _image_axes(axes[0], image, exp.image_size)
    axes[0].set_title(f"predicted: {exp.prediction} ({mark})", fontsize=9,
                      color="tab:green" if exp.correct else "tab:red")
    axes[0].set_ylabel("\n".join(textwrap.wrap(label, 24)), fontsize=9)
    axes[0].set_xlabel("\n".join(textwrap.wrap(exp.note, 38)), fontsize=7)
    _heat_panel(axes[1], image, exp, exp.gradient, "gradient importance (Eq. 2)" + _rho(exp, exp.gradient),
                shift=True)
    _heat_panel(axes[2], image, exp, exp.attention, "attention" + _rho(exp, exp.attention))
    human_title = "human importance (Eq. 1)" if exp.human is not None else "human importance\n(no human map)"
    _heat_panel(axes[3], image, exp, exp.human, human_title, exp.hat_mask)


def header(exp: Explanation, kind: str) -> str:
    """The figure's title: the question (or caption), the ground truth, what the gradient is of."""
    lead = f"Q: {exp.prompt}" if kind == "vqa" else f"caption: {exp.prompt}"
    return (f"{textwrap.shorten(lead, 110)}\nground truth: {exp.truth}    gradient of {exp.target}    "
            "box: top proposal; dashed: human mask")


def draw_explanation(image: np.ndarray, rows: list[tuple[str, Explanation]], kind: str, path: str | Path) -> Path:
    """Write the PNG at ``path`` (atomically): image [H, W, 3] uint8; rows: (label, Explanation) per checkpoint,
    in order (before, after); kind: "vqa" or "captioning" (the title's wording)."""
    plt = _pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    n = len(rows)
    fig, axes = plt.subplots(n, 4, figsize=(4 * PANEL_INCHES + 0.9, n * (PANEL_INCHES + 0.45) + 0.75),
                             squeeze=False, layout="constrained")
    for axes_row, (label, exp) in zip(axes, rows):
        _row(axes_row, image, label, exp)
    fig.suptitle(header(rows[0][1], kind), fontsize=9)
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), CMAP), ax=axes[:, 1:].ravel().tolist(), shrink=0.8,
                       fraction=0.03, pad=0.02)
    bar.set_label("importance summed over boxes\n(each map / its max)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return Path(path)
