"""One training step as a picture (:func:`trace`): the chain of the lecture left to right,
the forward values on top, the backward quantities under them, with arrows."""
from __future__ import annotations

import math
import re
import textwrap

import numpy as np

from ..trace import Trace
from .base import _cmap, _mosaic, _vector_layout, check_n, figure

#: trace keys drawn under another quantity of the same column (the VAE's pairs)
_TRACE_STACK = {"logvar": "mu", "eps": "sigma", "out_logvar": "xhat"}
#: trace keys not drawn: the VAE's heads are linear, so their pre-activations are μ and
#: log σ² again; the KL weight is printed with the loss
_TRACE_SKIP = ("mu.a", "logvar.a", "kl_weight")
#: a column whose key ends so is joined to the one before by this operator (z ⊙ mask = h)
_TRACE_OPS = {".mask": "⊙", ".h": "="}
_BACKWARD = "#b2182b"      # the colour of the backward pass (RdBu_r's red end)


class _Cell:
    """One column of the step's chain: its forward keys (stacked), the backward key of
    each (``bwd[fwd_key]``), the weight gradients drawn under it, and the operator that
    joins it to the next column."""

    def __init__(self, key):
        self.fwd, self.bwd, self.w, self.op = [key], {}, [], "→"


def _trace_cells(t):
    """The columns of the picture from the trace's keys (see :func:`trace`), and the
    index of the code's column (where a long chain wraps)."""
    keys = t.keys()
    if "E" not in keys:
        raise ValueError("the trace has no 'E' entry (the loss); make it with ae.trace(model, X[:1])")
    iE = keys.index("E")
    cells, where = [], {}
    for key in keys[:iE]:
        if key in _TRACE_SKIP or key.startswith("E."):
            continue
        host = where.get(_TRACE_STACK.get(key))
        if host is not None:
            host.fwd.append(key)
        else:
            host = _Cell(key)
            if cells:
                cells[-1].op = next((op for end, op in _TRACE_OPS.items() if key.endswith(end)), "→")
            cells.append(host)
        where[key] = host
    if not cells:
        raise ValueError("the trace has no forward quantities before 'E'")
    alias = {} if "xhat" in where else {"xhat": cells[-1].fwd[0]}   # x̂ is the last output
    for key in keys[iE + 1:]:
        m = re.fullmatch(r"dE/d\((.+)\.(a|z|W)\)", key) or re.fullmatch(r"dE/d(\w+)", key)
        if m is None:
            continue                                   # ∂E/∂b, and the gradients again
        if m.re.groups == 2 and m.group(2) == "W":     # ∂E/∂W under its layer's Wx + b
            cell = where.get(f"{m.group(1)}.a") or where.get(m.group(1))
            if cell is not None:
                cell.w.append(key)
            continue
        if m.re.groups == 2:
            name, part = m.groups()
            fk = f"{name}.h" if part == "z" and f"{name}.h" in where else f"{name}.{part}"
        else:
            fk = alias.get(m.group(1), m.group(1))
        if fk in where:
            where[fk].bwd[fk] = key
    code = where.get("z") or next((c for c in reversed(cells) if c.fwd[0].startswith("enc")), None)
    return cells, ([] if code is None else [cells.index(code)])


def _trace_bands(n, cuts, max_cols):
    """Split n columns into bands of at most ``max_cols``, first after the code."""
    if n <= max_cols:
        return [list(range(n))]
    edges = sorted({0, n, *(c + 1 for c in cuts if 0 < c + 1 < n)})
    bands = []
    for a, b in zip(edges, edges[1:]):
        step = math.ceil((b - a) / math.ceil((b - a) / max_cols))
        bands += [list(range(i, min(i + step, b))) for i in range(a, b, step)]
    return bands


def _trace_image(value, weight):
    """What one trace entry draws as: ``(2-D array, kind)``, kind 'scalar', 'numbers' (a
    few values, written in), 'image' or 'matrix' (a weight, stretched to its box)."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1 and not weight:
        return v.reshape(()), "scalar"
    if weight:
        if v.ndim == 4:                                # conv weights: a row per output channel
            co, ci, kh, kw = v.shape
            return _mosaic(v.reshape(co * ci, kh * kw), (kh, kw), ci), "image"
        return (v if v.ndim == 2 else v.reshape(1, -1)), "matrix"
    v = v[0] if v.ndim >= 2 else v                     # the first sample
    if v.ndim == 3:                                    # (C, H, W): one tile per channel
        C, H, W = v.shape
        return _mosaic(v.reshape(C, H * W), (H, W), math.ceil(math.sqrt(C))), "image"
    if v.ndim == 2:
        return v, "image"
    return _vector_layout(v.reshape(-1)), ("numbers" if v.size <= 8 else "image")


def _trace_panel(ax, sym, value, gray=False, weight=False, font=14):
    """One quantity as a small heatmap titled with its symbol, its shape (and colour
    scale) below: with ``gray`` (an image, a sigmoid's output) grey on [0, 1], values
    outside drawn clipped; else red/blue symmetric about 0 (white = 0). NaN/inf are
    drawn in yellow, the gaps between tiles in white."""
    img, kind = _trace_image(value, weight)
    ax.set_xticks([])
    ax.set_yticks([])
    shape = "×".join(map(str, np.shape(value))) or "scalar"
    ax.set_title(sym, fontsize=min(font, 150 / (0.6 * len(sym))), pad=4)
    finite = img[np.isfinite(img)]
    if kind == "scalar":
        ax.axis("off")
        ax.text(0.5, 0.5, f"{float(img):.4g}", ha="center", va="center", fontsize=font + 2,
                transform=ax.transAxes)
        return ax
    m = 1.0 if gray or finite.size == 0 else (float(np.abs(finite).max()) or 1.0)
    aspect = "auto" if kind == "matrix" else "equal"
    ax.imshow(np.ma.masked_invalid(img), cmap=_cmap("gray" if gray else "RdBu_r"),
              vmin=0 if gray else -m, vmax=m, interpolation="nearest", aspect=aspect)
    if not np.all(np.isfinite(value)):   # 1 finite, 0 not, NaN in the gaps
        ok = _trace_image(np.isfinite(value).astype(float), weight)[0]
        ax.imshow(np.ma.masked_where(~(ok == 0), ok), cmap=_cmap("Wistia"), vmin=0, vmax=1,
                  interpolation="nearest", aspect=aspect)
    clipped = gray and finite.size > 0 and (finite.min() < 0 or finite.max() > 1)
    ax.set_xlabel(f"{shape}   ±{m:.2g}" if not gray else shape + ("  (clipped)" if clipped else ""),
                  fontsize=11, labelpad=3)
    ax.apply_aspect()               # final position now: the arrows are placed from it
    if kind == "numbers":           # a few values: cells of at most half an inch, written in
        pos, w_in = ax.get_position(), ax.figure.get_size_inches()[0]
        k = min(1.0, 0.5 * img.shape[1] / (pos.width * w_in))
        ax.set_position([pos.x0 + pos.width * (1 - k) / 2, pos.y0 + pos.height * (1 - k) / 2,
                         pos.width * k, pos.height * k])
        size = min(12.0, pos.width * k * w_in * 72 / img.shape[1] / 3.2)   # "-0.82" fits a cell
        for (i, j), v in np.ndenumerate(img):
            if size >= 7 and np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=size,
                        color="white" if (abs(v) > 0.6 * m if not gray else v < 0.5) else "black")
    return ax


def _loss_panel(ax, t, font=14):
    """E and its terms as text (a long name on a line of its own)."""
    ax.axis("off")
    terms = [(sym, val) for key, sym, val, _ in t.entries
             if key.startswith("E.") or key == "kl_weight"]
    ax.text(0.5, 0.8, f"E = {float(t['E']):.4g}", ha="center", va="center", fontsize=font + 4,
            transform=ax.transAxes, fontweight="bold")
    lines = "\n".join(f"{sym}{' =' + chr(10) if len(sym) > 12 else ' = '}{float(val):.4g}"
                      for sym, val in terms)
    ax.text(0.5, 0.64, lines, ha="center", va="top", fontsize=font - 3, transform=ax.transAxes,
            linespacing=1.3)
    ax.set_title("E (the loss)", fontsize=font, pad=4)
    return ax


def _below(ax):
    """The lowest point of what ``ax`` draws, in figure coordinates (its texts included)."""
    fig = ax.figure
    r = fig.canvas.get_renderer()
    to_fig = fig.transFigure.inverted()
    return min([ax.get_position().y0]
               + [to_fig.transform((0, a.get_window_extent(r).y0))[1] for a in ax.texts])


def _cell_axes(fig, spec, keys, t, forward, weight=False):
    """The panels of one cell of the grid, stacked top to bottom; returns them."""
    if not keys:
        return []
    sub = spec.subgridspec(len(keys), 1, hspace=1.3) if len(keys) > 1 else [spec]
    axes = []
    for s, key in zip(sub, keys):
        ax = fig.add_subplot(s)
        if key == "E":
            axes.append(_loss_panel(ax, t))
            continue
        _, sym, val, note = t.entries[t.keys().index(key)]
        gray = forward and (key in ("x", "x_tilde") or note.startswith("sigmoid"))
        axes.append(_trace_panel(ax, sym, val, gray, weight))
    return axes


def _box(axes):
    """``(x0, x1, y_centre)`` of a cell's panels in figure coordinates."""
    boxes = [ax.get_position() for ax in axes]
    return (min(b.x0 for b in boxes), max(b.x1 for b in boxes),
            (min(b.y0 for b in boxes) + max(b.y1 for b in boxes)) / 2)


def _arrow(fig, a, b, color, text=None, rad=0.0):
    """An arrow in figure coordinates from a to b (a plain operator sign with ``text``)."""
    from matplotlib.patches import FancyArrowPatch

    if text not in (None, "→"):
        fig.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, text, ha="center", va="center",
                 fontsize=26, color=color)
        return
    fig.add_artist(FancyArrowPatch(a, b, transform=fig.transFigure, arrowstyle="-|>",
                                   mutation_scale=20, lw=1.8, color=color, shrinkA=4, shrinkB=4,
                                   connectionstyle=f"arc3,rad={rad}"))


def trace(t, title=None, weights=True, max_cols=7):
    """One training step as a picture: the chain of the lecture, forward and backward.

    ``t`` is a trace (:func:`aenumpy.trace`, ``ae.trace(model, X[:1])``) of any model:
    the picture is read from its entries, nothing is computed again. Left to right
    the forward chain ``x → Wx + b → z → W'z + b' → x̂ → E`` (every layer of a stacked
    model; the corrupted x̃ and a mask ``z ⊙ mask`` when there are; for a VAE
    ``x → h → (μ, log σ²) → (σ, ε) → z = μ + σ ⊙ ε → … → x̂ → E``) on the first row,
    and under each quantity its gradient ``∂E/∂·`` on the second, the backward pass
    running right to left from E. A third row shows, under each layer's ``Wx + b``,
    the gradient ``∂E/∂W = δᵀx`` of its weights (``weights=False`` leaves it out);
    ``∂E/∂b`` is not drawn (it is δ summed over the batch), nor the weights
    themselves (:func:`filters` draws those).

    Each quantity of the first sample is a small heatmap titled with its symbol, its
    shape below: a vector of d values as a √d × √d image when d is a square (64,
    784), else a near-square block (one row up to 4 values; up to 8 values are
    written in); an image batch ``(B, C, H, W)`` as one tile per channel; a weight
    gradient as its matrix (conv weights: a row of ``k × k`` tiles per output
    channel). The input x, x̃ and sigmoid outputs are grey on [0, 1]; everything
    else is red (> 0) / blue (< 0) on a scale symmetric about 0, its bound written
    as ``±m`` under the panel, so the sizes of the gradients can be compared layer
    by layer. Long chains wrap after the code, at most ``max_cols`` columns to a
    band.
    """
    if not isinstance(t, Trace):
        raise TypeError(f"plot.trace needs a trace (t = ae.trace(model, X[:1])), got "
                        f"{type(t).__name__}")
    max_cols = check_n("max_cols", max_cols, 3)
    cells, cuts = _trace_cells(t)
    cells.append(_Cell("E"))
    bands = _trace_bands(len(cells), cuts, max_cols)
    rows = []                                             # (band, kind) top to bottom
    for i, band in enumerate(bands):
        rows += [(i, "fwd"), (i, "bwd")]
        if weights and any(cells[c].w for c in band):
            rows.append((i, "w"))
        if i < len(bands) - 1:
            rows.append((i, "gap"))
    ratios = [{"fwd": 1.0, "bwd": 1.0, "w": 0.95, "gap": 0.1}[k] for _, k in rows]
    ncols = max(len(b) for b in bands)
    col_w, row_h, left = 2.05, 2.0, 1.25
    width = left + ncols * col_w + 0.2
    B = np.shape(t["x"])[0] if "x" in t and np.ndim(t["x"]) > 1 else 1
    head = textwrap.fill(title or t.title + ("" if B == 1 else f" (drawn: the first of {B} samples)"),
                         int(width * 72 / (0.55 * 14)))
    top = 0.6 + 0.3 * head.count("\n")
    fig = figure((width, row_h * sum(ratios) + top + 0.4))
    W, H = fig.get_size_inches()
    gs = fig.add_gridspec(len(rows), ncols, height_ratios=ratios, left=left / W, right=1 - 0.2 / W,
                          top=1 - (top + 0.3) / H, bottom=0.3 / H, wspace=0.42, hspace=0.55)
    boxes = {}                                            # (column, kind) -> (x0, x1, yc)
    for r, (b, kind) in enumerate(rows):
        if kind == "gap":
            continue
        for j, c in enumerate(bands[b]):
            cell = cells[c]
            keys = {"fwd": cell.fwd, "w": cell.w,
                    "bwd": [cell.bwd.get(k) for k in cell.fwd if cell.bwd.get(k)]}[kind]
            axes = _cell_axes(fig, gs[r, j], keys, t, kind == "fwd", kind == "w")
            if axes:
                boxes[c, kind] = _box(axes)
            if cell.fwd == ["E"] and kind == "fwd":
                e_bottom = _below(axes[0])
        y = gs[r, 0].get_position(fig)
        label, color = {"fwd": ("forward", "black"), "bwd": ("backward\n∂E/∂·", _BACKWARD),
                        "w": ("weight gradients\n∂E/∂W", _BACKWARD)}[kind]
        fig.text(0.3 / W, (y.y0 + y.y1) / 2, label, ha="center", va="center", fontsize=13,
                 color=color, fontweight="bold", rotation=90)
    _chain_arrows(fig, t, cells, bands, boxes, e_bottom)
    fig.suptitle(head, fontsize=14, y=1 - 0.15 / H, va="top")
    return fig


def _chain_arrows(fig, t, cells, bands, boxes, e_bottom):
    """The arrows of :func:`trace`: forward left to right and backward right to left in
    each band, into a band from the one above, and from E down to ∂E/∂x̂."""
    W, H = fig.get_size_inches()
    for b, band in enumerate(bands):
        fwd = [c for c in band if (c, "fwd") in boxes]
        for c0, c1 in zip(fwd, fwd[1:]):
            a, z = boxes[c0, "fwd"], boxes[c1, "fwd"]
            _arrow(fig, (a[1], a[2]), (z[0], z[2]), "0.25", cells[c0].op)
        bwd = [c for c in band if (c, "bwd") in boxes]
        for c0, c1 in zip(bwd, bwd[1:]):
            a, z = boxes[c0, "bwd"], boxes[c1, "bwd"]
            _arrow(fig, (z[0], z[2]), (a[1], a[2]), _BACKWARD)
        if b > 0 and fwd:                                 # the chain goes on from the band above
            a = boxes[fwd[0], "fwd"]
            prev = cells[bands[b - 1][-1]].fwd[-1]
            sym = t.symbols()[t.keys().index(prev)]
            _arrow(fig, (a[0] - 0.7 / W, a[2]), (a[0], a[2]), "0.25")
            fig.text(a[0] - 0.38 / W, a[2] + 0.1 / H, sym, ha="center", va="bottom",
                     fontsize=min(11.0, 0.7 * 72 / (0.6 * len(sym))))
        if b < len(bands) - 1 and bwd:                    # ... and its gradient from below
            a = boxes[bwd[-1], "bwd"]
            _arrow(fig, (a[1] + 0.5 / W, a[2]), (a[1], a[2]), _BACKWARD)
            fig.text(a[1] + 0.25 / W, a[2] + 0.08 / H, "from\nbelow", ha="center", va="bottom",
                     fontsize=10, color=_BACKWARD)
    last = len(cells) - 1                                 # E starts the backward pass
    outs = [c for c in range(last) if (c, "bwd") in boxes]
    if outs:
        e, o = boxes[last, "fwd"], boxes[outs[-1], "bwd"]
        _arrow(fig, ((e[0] + e[1]) / 2, e_bottom), (o[1], o[2]), _BACKWARD, rad=-0.25)
