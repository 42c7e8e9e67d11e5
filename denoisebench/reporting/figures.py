"""Figures (matplotlib Agg, imported lazily): the paper's Fig. 9 visual grid, Fig. 10 improvement bars,
Fig. 6/8 confusion matrices, Fig. 7 metric correlations, and metric vs noise level curves.

Every figure is written twice: ``figures/<key>.png`` at 300 dpi and ``figures/<key>.pdf`` (vector; raster tiles
embedded at their native resolution). One colour, marker, line style and hatch per denoiser across every figure
(:func:`styles`: the Okabe–Ito colour-blind-safe palette in the run's denoiser order; the noisy input grey).
Each figure is made independently; one that fails is reported in the report's failures, never stops the others.
The visual grid reads its images from the run directory's cache (:func:`denoisebench.reporting.regenerate.
cached_panel`): a denoiser runs at most once per cell for figures, the first time the figure is drawn. It is
laid out explicitly in pixels of its 300-dpi PNG and drawn over one axes: the PNG's images are composited with
numpy into one mosaic under the texts and frames, the PDF holds each tile and inset as its own image at the
image's resolution (so the figure costs about a third of one axes per tile and inset with ``bbox_inches="tight"``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from denoisebench import metricmeta, stats
from denoisebench.config import NOISY
from denoisebench.errors import ConfigError
from denoisebench.reporting.data import (
    COUNTS,
    IMAGE_KEYS,
    denoiser_order,
    has_metric,
    noise_type_order,
    ok_cells,
    setting_order,
)
from denoisebench.reporting.model import Figure, Report

FIG_DIR = "figures"
DPI = 300
#: Okabe & Ito (2008), colour-blind safe; yellow and black last (weak on white / reserved look)
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442", "#000000")
NOISY_COLOUR = "#8C8C8C"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
LINESTYLES = ("-", "--", "-.", ":")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "||")
#: inset of the visual grid: lower-right fraction of each tile; the zoomed box is the clean image's most
#: textured square outside it, of side min(h, w) / ZOOM_DIV
INSET = 0.5
ZOOM_DIV = 6


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    """``path`` (PNG, 300 dpi) and the same figure as PDF beside it, both cropped to the figure's tight box
    (computed once, at 300 dpi, instead of by a second draw for each file); no dates or versions in the files."""
    import matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.set_dpi(DPI)
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(matplotlib.rcParams["savefig.pad_inches"])
    fig.savefig(path, dpi=DPI, metadata={"Software": None}, bbox_inches=bbox)
    fig.savefig(path.with_suffix(".pdf"), metadata={"Creator": None, "Producer": None, "CreationDate": None},
                bbox_inches=bbox)
    _plt().close(fig)


def styles(report: Report) -> dict[str, dict]:
    """Denoiser (method label) -> ``color``, ``marker``, ``linestyle``, ``hatch``: fixed by the run's denoiser
    order over *all* its cells (failed ones too), so a denoiser has the same look in every figure of a run."""
    cells, plan = report.context["cells"], report.context["plan"]
    out = {NOISY: {"color": NOISY_COLOUR, "marker": "x", "linestyle": ":", "hatch": ""}}
    names = [n for n in denoiser_order(cells, plan) if n != NOISY]
    for k, name in enumerate(names):
        out[name] = {"color": PALETTE[k % len(PALETTE)], "marker": MARKERS[k % len(MARKERS)],
                     "linestyle": LINESTYLES[(k // len(PALETTE) + k) % len(LINESTYLES)],
                     "hatch": HATCHES[k % len(HATCHES)]}
    return out


def _meta_label(report: Report, metric: str, unit: bool = True) -> str:
    meta = report.context.get("metrics") or {}
    return metricmeta.label(meta, metric, unit=unit) if metric in meta else metric.upper()


def figure_denoisers(report: Report, names: list[str] | None) -> list[str]:
    """The methods the visual grid shows, in run order: every denoiser of the run, or those ``names`` selects
    (a registry name selects each of its method labels in a sweep). Raises ConfigError on an unknown name."""
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    order = [n for n in denoiser_order(ok, plan) if n != NOISY]
    if not names:
        return order
    base = dict(zip(ok["denoiser"], ok["base_denoiser"] if "base_denoiser" in ok.columns else ok["denoiser"]))
    unknown = [n for n in names if n not in order and n not in base.values() and n != NOISY]
    if unknown:
        raise ConfigError(f"--figure-denoisers {','.join(unknown)}: not an ok denoiser of this run; it has "
                          f"{', '.join(order) or '(none)'}")
    return [n for n in order if n in names or base.get(n) in names]


def zoom_box(clean: np.ndarray) -> tuple[int, int, int]:
    """(y0, x0, side) of the most textured square of ``clean`` (largest mean gradient magnitude) that the
    lower-right inset does not cover."""
    gray = clean.mean(axis=2) if clean.ndim == 3 else clean
    h, w = gray.shape
    s = max(8, min(h, w) // ZOOM_DIV)
    gy, gx = np.gradient(gray.astype(np.float64))
    energy = np.pad(np.hypot(gx, gy), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    step = max(1, s // 4)
    best, where = -1.0, (max(0, h // 2 - s // 2), max(0, w // 2 - s // 2))
    for y in range(0, max(1, h - s + 1), step):
        for x in range(0, max(1, w - s + 1), step):
            if y + s > (1 - INSET) * h and x + s > (1 - INSET) * w:
                continue  # would sit under the inset
            e = energy[y + s, x + s] - energy[y, x + s] - energy[y + s, x] + energy[y, x]
            if e > best:
                best, where = e, (y, x)
    return where[0], where[1], min(s, h, w)


def _visual_panels(report: Report, run_dir: Path, names: list[str], images_per_type: int | None):
    from denoisebench.reporting.regenerate import cached_panel

    cells, plan, config = report.context["cells"], report.context["plan"], report.context["config"]
    ok = ok_cells(cells)
    types = noise_type_order(ok, plan)
    if images_per_type is None:  # at most 6 panels: a few images per noise type
        images_per_type = min(3, max(1, 6 // max(1, len(types))))
    panels, levels = [], []
    for nt in types:
        settings = [s for s in setting_order(ok, plan) if ok.loc[ok["setting"] == s, "noise"].iloc[0] == nt]
        setting = settings[len(settings) // 2]
        levels.append(setting)
        sub = ok[(ok["setting"] == setting) & (ok["repetition"] == 0)]
        for image in sorted(set(map(tuple, sub[IMAGE_KEYS].to_numpy())))[:images_per_type]:
            rows = sub[(sub["dataset"] == image[0]) & (sub["image_id"] == image[1])
                       & sub["denoiser"].isin([NOISY, *names])]
            panels.append(cached_panel(run_dir, cells, config, plan, rows))
    counts = sorted({sum(p.setting == s for p in panels) for s in levels})
    return panels, levels, "/".join(map(str, counts))


#: visual-grid layout, inches: tile width, gap between tiles, tile title band, PSNR label band, panel heading
#: band, outer margin
TILE_W, TILE_GAP, TILE_HEAD, TILE_FOOT, PANEL_PAD, MARGIN = 1.55, 0.05, 0.2, 0.2, 0.28, 0.1
#: zlib level of the visual grid's PNG (lossless; 2: about a third of level 6's time, 7 % more bytes)
PNG_LEVEL = 2
ZOOM_COLOUR = "yellow"


def _pt(points: float) -> float:
    """Points as pixels of the 300-dpi grid."""
    return points * DPI / 72


def _to_u8(img: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as the bytes matplotlib's ``imshow`` shows for it: grey through the ``gray`` colormap
    with vmin 0, vmax 1 (its 256-entry table, as bytes), RGB as floor(255 v)."""
    a = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
    if a.ndim == 2:
        import matplotlib

        return matplotlib.colormaps["gray"](a, bytes=True)[..., 0]
    return (a[..., :3] * 255).astype(np.uint8)


def _nearest(n_out: int, n_src: int) -> np.ndarray:
    """Source index of each of ``n_out`` output pixels showing ``n_src`` source pixels (nearest neighbour)."""
    return np.minimum(((np.arange(n_out) + 0.5) * (n_src / n_out)).astype(np.intp), n_src - 1)


def _minus(rect, hole) -> list[tuple]:
    """The axis-aligned rectangle ``rect`` (x0, y0, x1, y1) without ``hole``, as up to four rectangles."""
    x0, y0, x1, y1 = rect
    hx0, hy0, hx1, hy1 = hole
    if hx0 >= x1 or hx1 <= x0 or hy0 >= y1 or hy1 <= y0:
        return [rect]
    out = []
    if hy0 > y0:
        out.append((x0, y0, x1, hy0))
    if hy1 < y1:
        out.append((x0, hy1, x1, y1))
    my0, my1 = max(y0, hy0), min(y1, hy1)
    if hx0 > x0:
        out.append((x0, my0, hx0, my1))
    if hx1 < x1:
        out.append((hx1, my0, x1, my1))
    return out


def _frame(box, lw: float, hole=None) -> list[tuple]:
    """The rectangles a frame of line width ``lw`` (pixels, centred on the edges of ``box``) covers, as a
    matplotlib spine draws it, except where ``hole`` (the inset's image, drawn above the frame) hides it."""
    x0, y0, x1, y1 = box
    h = lw / 2
    bars = [(x0 - h, y0 - h, x1 + h, y0 + h), (x0 - h, y1 - h, x1 + h, y1 + h),
            (x0 - h, y0 + h, x0 + h, y1 - h), (x1 - h, y0 + h, x1 + h, y1 - h)]
    return [piece for bar in bars for piece in (_minus(bar, hole) if hole else [bar])]


def _rects_path(rects):
    """One compound path of rectangles (x0, y0, x1, y1): filled as one shape (no seams where pieces meet)."""
    from matplotlib.path import Path as MPath

    verts, codes = [], []
    for x0, y0, x1, y1 in rects:
        verts += [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        codes += [MPath.MOVETO, MPath.LINETO, MPath.LINETO, MPath.LINETO, MPath.CLOSEPOLY]
    return MPath(verts, codes)


def _grid_layout(panels, names: list[str], look: dict, max_columns: int) -> dict:
    """Where everything of the visual grid goes, in pixels of the 300-dpi PNG (origin top left, y down), every
    image box on whole pixels: ``size`` (W, H), ``texts`` (x, y, text, keyword arguments), ``tiles`` (name,
    image, box, inset box or None, zoom crop (y0, x0, s) or None, frame colour, frame width in points)."""
    tiles_n = 2 + len(names)  # clean, noisy, denoisers
    rows_per = math.ceil(tiles_n / max_columns)
    ncol = math.ceil(tiles_n / rows_per)
    tw, gap, head, foot, pad, margin = (round(v * DPI) for v in (TILE_W, TILE_GAP, TILE_HEAD, TILE_FOOT,
                                                                  PANEL_PAD, MARGIN))
    width = 2 * margin + ncol * tw + (ncol - 1) * gap
    texts, tiles, mags = [], [], set()
    mismatch = 0
    y = margin - round(0.13 * DPI)  # the heading band's empty top is margin enough
    for panel in panels:
        h, w = panel.clean.shape[:2]
        th = round(tw * h / w)
        y += pad
        texts.append((margin, y - 0.04 * DPI, f"{panel.image_id} ({panel.dataset}) — {panel.setting}",
                      {"fontsize": 8, "fontweight": "bold", "va": "bottom", "ha": "left"}))
        entries = [("clean", panel.clean, "reference")] + [
            (n, panel.images.get(n),
             f"PSNR {panel.psnr[n]:.2f} dB" if n in panel.psnr else panel.errors.get(n, "no ok cell here"))
            for n in [NOISY, *names]]
        zy, zx, s = zoom_box(panel.clean)
        for k, (name, img, label) in enumerate(entries):
            r, c = divmod(k, ncol)
            x0 = margin + c * (tw + gap)
            y0 = y + r * (head + th + foot) + head
            box = (x0, y0, x0 + tw, y0 + th)
            edge = "black" if name == "clean" else look.get(name, {}).get("color", "black")
            title_size = min(7.5, TILE_W * 72 / (0.6 * max(1, len(name))))  # a long method label shrinks to fit
            texts.append((x0 + tw / 2, y0 - _pt(2), name, {"fontsize": title_size, "va": "baseline",
                                                          "ha": "center"}))
            if img is None:
                texts.append((x0 + tw / 2, y0 + th / 2, "n/a", {"fontsize": 8, "va": "center", "ha": "center"}))
                texts.append((x0 + tw / 2, y0 + th + _pt(2), _wrap(label, 6), {"fontsize": 6, "va": "top",
                                                                              "ha": "center"}))
                tiles.append((name, None, box, None, None, edge, 0.6 if name == "clean" else 1.8))
                continue
            texts.append((x0 + tw / 2, y0 + th + _pt(2), label, {"fontsize": 7, "va": "top", "ha": "center"}))
            side = round(INSET * min(tw, th))  # the inset axes' box, shrunk to a square (equal aspect), centred
            bw, bh = round(INSET * tw), round(INSET * th)
            ix0, iy0 = x0 + tw - bw + (bw - side) // 2, y0 + th - bh + (bh - side) // 2
            tiles.append((name, img, box, (ix0, iy0, ix0 + side, iy0 + side), (zy, zx, s), edge,
                          0.6 if name == "clean" else 1.8))
            mags.add(round(INSET * min(img.shape[:2]) / s, 1))
            stored = panel.stored_psnr.get(name)
            if name in panel.psnr and stored is not None and abs(stored - panel.psnr[name]) > 1e-3:
                mismatch += 1
        y += rows_per * (head + th + foot)
    return {"size": (width, y + margin - round(0.07 * DPI)), "texts": texts, "tiles": tiles, "mags": mags,
            "mismatch": mismatch}


def _wrap(text: str, fontsize: float, lines: int = 2) -> str:
    """``text`` on at most ``lines`` lines that fit a tile at ``fontsize`` (cut with "…" when longer)."""
    import textwrap

    per_line = max(8, int(TILE_W * 72 / (0.55 * fontsize)))
    wrapped = textwrap.wrap(text, per_line, break_long_words=True) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][:per_line - 1] + "…"
    return "\n".join(wrapped)


def _grid_mosaic(layout: dict, out: np.ndarray | None = None) -> np.ndarray:
    """Every tile and inset of the visual grid composited into one RGB array of the PNG's pixels (white
    elsewhere; into ``out`` when given), each image scaled to its box by nearest neighbour, as matplotlib's
    ``interpolation="nearest"`` shows it."""
    width, height = layout["size"]
    if out is None:
        out = np.empty((height, width, 3), np.uint8)
    out[...] = 255
    for _name, img, box, inset, zoom, _edge, _lw in layout["tiles"]:
        if img is None:
            continue
        u8 = _to_u8(img)
        u8 = u8[..., None] if u8.ndim == 2 else u8
        x0, y0, x1, y1 = box
        out[y0:y1, x0:x1] = u8[_nearest(y1 - y0, u8.shape[0])[:, None], _nearest(x1 - x0, u8.shape[1])]
        zy, zx, s = zoom
        crop = u8[zy:zy + s, zx:zx + s]
        ix0, iy0, ix1, iy1 = inset
        out[iy0:iy1, ix0:ix1] = crop[_nearest(iy1 - iy0, crop.shape[0])[:, None], _nearest(ix1 - ix0, crop.shape[1])]
    return out


def _grid_figure(layout: dict):
    """The visual grid as one matplotlib figure over a single axes in PNG pixel units: the texts, the frames
    (one filled compound path per colour), the yellow zoom boxes and inset frames, and one image per tile and
    inset at its native resolution (for the PDF; the PNG composites :func:`_grid_mosaic` under the rest)."""
    plt = _plt()
    from matplotlib.patches import PathPatch

    width, height = layout["size"]
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    natives, frames, zooms, insets = [], {}, [], []
    for _name, img, box, inset, zoom, edge, lw in layout["tiles"]:
        x0, y0, x1, y1 = box
        frames.setdefault(edge, []).extend(_frame(box, _pt(lw), inset))
        if img is None:
            continue
        kw = {"cmap": "gray", "vmin": 0, "vmax": 1} if img.ndim == 2 else {}
        clipped = np.clip(img, 0, 1)
        zy, zx, s = zoom
        ix0, iy0, ix1, iy1 = inset
        natives.append(ax.imshow(clipped, extent=(x0, x1, y1, y0), interpolation="none", zorder=0, **kw))
        natives.append(ax.imshow(clipped[zy:zy + s, zx:zx + s], extent=(ix0, ix1, iy1, iy0),
                                 interpolation="none", zorder=3, **kw))
        sx, sy = (x1 - x0) / img.shape[1], (y1 - y0) / img.shape[0]
        zooms.append((x0 + zx * sx, y0 + zy * sy, x0 + (zx + s) * sx, y0 + (zy + s) * sy))
        insets.append(inset)
    for edge, rects in frames.items():
        ax.add_patch(PathPatch(_rects_path(rects), facecolor=edge, edgecolor="none", linewidth=0, zorder=2))
    for rects, lw, z in ((zooms, 0.9, 1), (insets, 1.0, 4)):
        if rects:
            ax.add_patch(PathPatch(_rects_path(rects), facecolor="none", edgecolor=ZOOM_COLOUR, linewidth=lw,
                                   zorder=z))
    for x, y, text, kw in layout["texts"]:
        ax.text(x, y, text, zorder=5, **kw)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    return fig, natives


def _grid_png(fig, natives, layout: dict) -> np.ndarray:
    """The PNG's pixels (RGB): :func:`_grid_mosaic` written straight into the Agg renderer's buffer, then the
    figure without its images (texts, frames, boxes) drawn once over it -- resampling the 300-dpi mosaic
    through ``imshow`` would cost more than the rest of the figure together."""
    for im in natives:
        im.set_visible(False)
    fig.patch.set_visible(False)
    renderer = fig.canvas.get_renderer()
    buf = np.asarray(renderer.buffer_rgba())
    if buf.shape[:2] != layout["size"][::-1]:
        raise RuntimeError(f"Agg buffer {buf.shape[1]}x{buf.shape[0]} is not the layout's {layout['size']}")
    buf[..., 3] = 255
    _grid_mosaic(layout, out=buf[..., :3])
    fig.draw(renderer)
    fig.patch.set_visible(True)
    for im in natives:
        im.set_visible(True)
    return buf[..., :3]


def _png_bytes(raw: bytes | np.ndarray, width: int, height: int, dpi: int = DPI, level: int = PNG_LEVEL) -> bytes:
    """A PNG file of RGB pixels already PNG-filtered (:func:`_png_filtered`), ``dpi`` in its pHYs chunk, no
    dates or versions. The zlib stream is made with the GIL released, so it can overlap other work."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ppm = round(dpi / 0.0254)
    return b"".join((b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
                     chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
                     chunk(b"IDAT", zlib.compress(memoryview(raw), level)), chunk(b"IEND", b"")))


def _png_filtered(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 rows with PNG filter type 2 ("Up": each byte minus the one above it, modulo 256) in front of
    each row: as small as the adaptive filters on these figures, and one vectorised subtraction."""
    height, width, _ = rgb.shape
    rows = rgb.reshape(height, width * 3)
    raw = np.empty((height, 1 + width * 3), np.uint8)
    raw[:, 0] = 2
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    return raw


def _save_grid(fig, natives, layout: dict, path: Path) -> None:
    """The visual grid as a 300-dpi RGB PNG and a PDF (vector text and frames over the tiles at native
    resolution), each drawn once: explicit layout, so no ``bbox_inches="tight"`` second draw. The PNG's
    compression runs in a thread while the PDF is drawn."""
    import threading

    import matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = layout["size"]
    raw = _png_filtered(_grid_png(fig, natives, layout))
    failed: list[BaseException] = []

    def write_png() -> None:
        try:
            path.write_bytes(_png_bytes(raw, width, height))
        except BaseException as exc:  # re-raised below, in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=write_png, name="denoisebench-png", daemon=True)
    thread.start()
    try:
        with matplotlib.rc_context({"image.composite_image": False}):  # each tile its own image
            fig.savefig(path.with_suffix(".pdf"), metadata={"Creator": None, "Producer": None, "CreationDate": None})
    finally:
        thread.join()
        _plt().close(fig)
    if failed:
        raise failed[0]


def visual_grid(report: Report, path: Path, images_per_type: int | None = None, denoisers: list[str] | None = None,
                max_columns: int = 7) -> str:
    """Fig. 9: per image (middle level of each noise type) the clean image, the noisy input and each selected
    denoiser's output, wrapped into rows of at most ``max_columns`` tiles; PSNR under each tile; a zoomed inset.
    Laid out explicitly in pixels of the 300-dpi PNG and drawn as one figure over one axes (see
    :func:`_grid_layout`, :func:`_grid_figure`), not one axes per tile."""
    names = figure_denoisers(report, denoisers)
    panels, levels, per_type = _visual_panels(report, path.parent.parent, names, images_per_type)
    layout = _grid_layout(panels, names, styles(report), max_columns)
    _save_grid(*_grid_figure(layout), layout, path)
    chosen = "every denoiser of the run" if len(names) == len(figure_denoisers(report, None)) else \
        f"the denoisers chosen with --figure-denoisers ({', '.join(names)})"
    mismatch = layout["mismatch"]
    note = "" if not mismatch else f"; {mismatch} tile(s) differ from the stored PSNR (non-deterministic denoiser)"
    mag = "/".join(f"{m:g}" for m in sorted(layout["mags"])) or "n/a"
    return (f"Visual comparison (paper Fig. 9): the clean image, the noisy input and the output of {chosen} "
            f"({len(names)}), for {per_type} image(s) per noise type at its middle level ({', '.join(levels)}), "
            "repetition 0, re-created once from the stored seeds and parameters and cached in figures/cache/; "
            f"PSNR of each tile against the clean image below it; inset (lower right): the yellow box, the clean "
            f"image's most textured region, magnified {mag}×; tile frames in each denoiser's figure colour{note}")


def _legend(source, target, ncol: int = 1):
    """The legend of ``source``'s artists just right of the axes ``target`` (outside the data)."""
    handles, labels = source.get_legend_handles_labels()
    target.legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, frameon=False,
                  ncol=ncol, title="denoiser", title_fontsize=7, borderaxespad=0)


def improvement_bars(report: Report, path: Path, metric: str = "psnr") -> str:
    """Fig. 10: mean % improvement over the noisy input per noise type and denoiser, 95 % CI whiskers (images)."""
    from denoisebench.reporting.tables import improvements

    cells, plan = report.context["cells"], report.context["plan"]
    higher = metricmeta.higher_is_better(report.context.get("metrics") or {}, metric)
    pairs = improvements(cells, metric, higher)
    names = [n for n in denoiser_order(ok_cells(cells), plan) if n != NOISY]
    types = noise_type_order(cells, plan)
    look = styles(report)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(min(10.0, max(4.5, 0.16 * len(types) * max(1, len(names)) + 1.5)), 3.0))
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        means, errs = [], [[], []]
        for nt in types:
            per_image = pairs[(pairs["denoiser"] == name) & (pairs["noise"] == nt)].groupby(IMAGE_KEYS)["percent"].mean()
            m, lo, hi = stats.mean_ci(per_image)
            means.append(m)
            errs[0].append(m - lo if np.isfinite(lo) else 0)
            errs[1].append(hi - m if np.isfinite(hi) else 0)
        x = np.arange(len(types)) + (k - (len(names) - 1) / 2) * width
        st = look.get(name, {})
        ax.bar(x, means, width, yerr=errs, capsize=1.5, label=name, color=st.get("color"), hatch=st.get("hatch"),
               edgecolor="black", linewidth=0.4, error_kw={"elinewidth": 0.6})
    ax.set_xticks(np.arange(len(types)), types, fontsize=8)
    ax.set_xlabel("noise type", fontsize=8)
    label = _meta_label(report, metric, unit=False)
    ax.set_ylabel(f"{label} improvement over noisy input (%)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    ax.set_axisbelow(True)
    ax.set_xlim(-0.5, len(types) - 0.5)
    _legend(ax, ax, ncol=2 if len(names) > 14 else 1)
    _save(fig, path)
    return (f"% {label} improvement over the noisy input per noise type (paper Fig. 10): per image the mean over "
            "the type's levels of (after − before)/|before| × 100"
            f"{'' if higher else ' (sign flipped: lower is better)'}; bars = mean over images, whiskers = 95 % t "
            "CI over images; colours and hatches identify the denoiser (legend right)")


def confusion_heatmaps(report: Report, path: Path) -> str:
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    look = styles(report)
    plt = _plt()
    ncol = min(len(names), 5)
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.75 * ncol + 0.8, 2.1 * nrow), squeeze=False)
    fig.subplots_adjust(hspace=0.45)  # a row's titles clear the tick labels of the row above
    im = None
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.axis("off")
            continue
        name = names[k]
        c = ok[ok["denoiser"] == name][list(COUNTS)].sum()
        m = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], dtype=float)
        rates = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(rates):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
        ax.set_title(name, fontsize=8, color="black")
        for spine in ax.spines.values():
            spine.set_edgecolor(look.get(name, {}).get("color", "black"))
            spine.set_linewidth(2)
        ax.set_xticks([0, 1], ["0", "1"], fontsize=7)
        ax.set_yticks([0, 1], ["0", "1"], fontsize=7)
        if k // ncol == nrow - 1 or k + ncol >= len(names):
            ax.set_xlabel("predicted (output > t)", fontsize=7)
        if k % ncol == 0:
            ax.set_ylabel("true (clean > t)", fontsize=7)
    if im is not None:
        bar = fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
        bar.set_label("row-normalised rate", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    _save(fig, path)
    rule = report.context.get("conventions", {}).get("metrics", {}).get("accuracy", "")
    fixed = rule.split("options: threshold=")[-1] if "options: threshold=" in rule else ""
    return ("Pooled confusion matrices (paper Figs. 6/8), row-normalised (rows: true class, columns: predicted): "
            "thresholded output vs thresholded clean image "
            f"({'threshold ' + fixed if fixed else 't = Otsu threshold of the clean image'}), all images and noise "
            "settings; frame colour = the denoiser's figure colour")


def correlation_heatmap(report: Report, path: Path) -> str:
    table = report.table("correlation")
    cm = table.data.set_index("metric")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(0.5 * len(cm) + 1.6, 0.5 * len(cm) + 1))
    im = ax.imshow(cm.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(cm)), cm.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(cm)), cm.index, fontsize=7)
    ax.set_xlabel("metric", fontsize=8)
    ax.set_ylabel("metric", fontsize=8)
    for (i, j), v in np.ndenumerate(cm.to_numpy(dtype=float)):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if abs(v) > 0.7 else "black")
    bar = fig.colorbar(im, ax=ax, fraction=0.046)
    bar.set_label("Pearson r", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    _save(fig, path)
    return "Metric correlation matrix across denoised cells (paper Fig. 7), Pearson r (colour scale −1 to 1)"


def psnr_curves(report: Report, path: Path, metric: str = "psnr") -> str:
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    types = noise_type_order(ok, plan)
    look = styles(report)
    grid = ok.groupby(["setting", "denoiser"])[metric].mean()
    plt = _plt()
    fig, axes = plt.subplots(1, len(types), figsize=(2.5 * len(types) + 0.4, 2.6), squeeze=False)
    label = _meta_label(report, metric)
    for ax, nt in zip(axes[0], types):
        settings = [s for s in setting_order(ok, plan) if s.split(" ", 1)[0] == nt]
        for name in names:
            st = look.get(name, {})
            ax.plot(range(len(settings)), [grid.get((s, name), np.nan) for s in settings], label=name,
                    color=st.get("color"), marker=st.get("marker"), linestyle=st.get("linestyle"),
                    markersize=4, linewidth=1.1, markerfacecolor="none" if name == NOISY else st.get("color"))
        ax.set_xticks(range(len(settings)), [s.split(" ", 1)[1] if " " in s else s for s in settings], fontsize=7)
        ax.set_xlim(-0.3, len(settings) - 0.7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(nt, fontsize=9)
        ax.set_xlabel(f"{nt} noise level", fontsize=7)
        ax.grid(linewidth=0.3, alpha=0.6)
    axes[0][0].set_ylabel(f"mean {label}", fontsize=8)
    fig.tight_layout()
    _legend(axes[0][0], axes[0][-1], ncol=2 if len(names) > 14 else 1)
    _save(fig, path)
    return (f"Mean {_meta_label(report, metric, unit=False)} vs noise level per noise type and denoiser (mean over "
            "images and repetitions); the noisy input grey and dotted; one colour, marker and line style per "
            "denoiser (legend right)")


def make_figures(report: Report, run_dir: str | Path, *, denoisers: list[str] | None = None) -> list[Figure]:
    """Write every figure the run's data allows; failures are added to ``report.failures``. ``denoisers``: the
    visual grid's selection (default every denoiser of the run)."""
    cells = report.context.get("cells")
    if cells is None or not len(ok_cells(cells)):
        return []
    jobs = []
    if has_metric(cells, "psnr"):
        jobs += [("visual", lambda r, p: visual_grid(r, p, denoisers=denoisers)), ("improvement", improvement_bars),
                 ("psnr_curves", psnr_curves)]
    if all(has_metric(cells, k) for k in COUNTS):
        jobs.append(("confusion", confusion_heatmaps))
    if any(t.key == "correlation" for t in report.tables):
        jobs.append(("correlation", correlation_heatmap))
    figures = []
    for key, func in jobs:
        rel = f"{FIG_DIR}/{key}.png"
        try:
            caption = func(report, Path(run_dir) / rel)
        except ConfigError:
            raise
        except Exception as exc:
            report.failures.append(f"figure {key} not written: {type(exc).__name__}: {exc}")
            continue
        figures.append(Figure(key, caption, rel))
    return figures
