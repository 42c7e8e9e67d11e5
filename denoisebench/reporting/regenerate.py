"""Re-creating a few cells' images at report time (outputs are not stored): the same dataset spec, seed, noise
spec and parameters as the stored run, through the worker's own code (:func:`denoisebench.engine.worker.replay_task`) (common random numbers make it exact for
deterministic denoisers). Used by the visual-comparison figure only, through :func:`cached_panel`: the first
time a cell's image is needed it is replayed once and cached in the run directory (``figures/cache/``), so
re-rendering a report never runs a denoiser again; the HTML report's image viewer reads the same cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from denoisebench.interfaces import NoiseSpec
from denoisebench.results import Cell, Task


@dataclass
class Panel:
    """One image × noise setting: the clean image, the noisy one and each denoiser's output with its PSNR."""

    dataset: str
    image_id: str
    setting: str
    clean: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)  # denoiser (noisy first) -> image
    psnr: dict[str, float] = field(default_factory=dict)
    stored_psnr: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def regenerate(cells, config: dict, plan: dict, rows) -> Panel:
    """Recompute the images of the ok cells in ``rows`` (one image × noise setting × repetition)."""
    from denoisebench.engine.worker import replay_task

    first = rows.iloc[0]
    spec_by_label = {label: spec for spec, label in plan.get("datasets", {}).items()}
    ds_spec = spec_by_label.get(first["dataset"], first["dataset"])
    noise = NoiseSpec.make(first["noise"], json.loads(first["noise_params"] or "{}"), first["noise_level"] or "")
    clip, seed, rep = bool(config.get("clip", True)), int(config.get("seed", 0)), int(first["repetition"])
    ok = [row for row in rows.itertuples() if row.status == "ok"]
    # row.denoiser is the table's method label (``median[size=5]`` in a sweep); the worker needs the registry
    # name, and keys its images by it, so a swept denoiser's parameter sets are replayed in separate tasks
    layers: list[list] = []
    for row in ok:
        base = getattr(row, "base_denoiser", row.denoiser)
        layer = next((lay for lay in layers if all(b != base for b, _ in lay)), None)
        if layer is None:
            layers.append(layer := [])
        layer.append((base, row))
    panel = None
    for layer in layers or [[]]:
        task_cells = tuple(Cell(row.dataset, row.image_id, noise, base,
                                tuple(sorted(json.loads(row.params or "{}").items())), rep, clip, seed)
                           for base, row in layer)
        task = Task(ds_spec, first["image_id"], noise, rep, clip, seed, task_cells, ())
        replay = replay_task(task, tuple(config.get("disable_plugins", ())))
        if panel is None:
            panel = Panel(first["dataset"], first["image_id"], first["setting"], replay.clean)
        for base, row in layer:
            for have, into in ((replay.outputs, panel.images), (replay.psnr, panel.psnr), (replay.errors, panel.errors)):
                if base in have:
                    into[row.denoiser] = have[base]
    for row in ok:
        stored = getattr(row, "psnr", None)
        if stored is not None and row.denoiser in panel.images:
            panel.stored_psnr[row.denoiser] = float(stored)
    return panel


#: where the images of the visual cells are cached, relative to the run directory (``manifest.json`` + ``*.npz``)
CACHE_DIR = "figures/cache"
_SCALE = 65535.0  # images are cached as uint16: within 1/65535 of the replayed float image, far below display


def panel_id(dataset: str, image_id: str, noise_key: str, repetition: int) -> str:
    """The cache file stem of one image × noise setting × repetition."""
    text = json.dumps([dataset, image_id, noise_key, int(repetition)])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def read_manifest(run_dir) -> dict:
    """The cache manifest: ``panels`` (panel id -> dataset, image_id, setting, repetition, file) and ``cells``
    (cell key -> panel, array name, method label, finished_at of the stored cell, PSNR of the replay)."""
    path = Path(run_dir) / CACHE_DIR / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": 1, "panels": {}, "cells": {}}
    manifest.setdefault("panels", {})
    manifest.setdefault("cells", {})
    return manifest


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError):
        return {}


def _to_cache(img: np.ndarray) -> np.ndarray:
    return np.round(np.clip(np.asarray(img, dtype=np.float64), 0, 1) * _SCALE).astype(np.uint16)


def _from_cache(arr: np.ndarray) -> np.ndarray:
    return (arr.astype(np.float32) / np.float32(_SCALE)).astype(np.float32)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` at zlib level 1 (an ``.npz`` that ``np.load`` reads as usual): numpy's level 6
    takes 1.5x as long on these noisy images (0.14 s of a first report's 0.45 s visual-grid set-up on the
    96-cell embedded grid) for 2-3 % fewer bytes."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)


def cached_panel(run_dir, cells, config: dict, plan: dict, rows) -> Panel:
    """:func:`regenerate`, through the run directory's cache: cells whose image is cached (same cell key, same
    ``finished_at``) are read from it; only the others are replayed (once), then cached. A second call with
    the same rows never calls a denoiser."""
    run_dir = Path(run_dir)
    cache = run_dir / CACHE_DIR
    first = rows.iloc[0]
    pid = panel_id(first["dataset"], first["image_id"], first["noise_key"], int(first["repetition"]))
    manifest = read_manifest(run_dir)
    file = cache / f"{pid}.npz"
    arrays = _load_arrays(file) if pid in manifest["panels"] else {}
    ok = rows[rows["status"] == "ok"]

    def cached(row) -> bool:
        entry = manifest["cells"].get(row.key)
        return (entry is not None and entry.get("panel") == pid and entry.get("array") in arrays
                and entry.get("finished_at") == row.finished_at)

    missing = [i for i, row in zip(ok.index, ok.itertuples()) if not cached(row)]
    errors: dict[str, str] = {}
    if missing or "clean" not in arrays:
        fresh = regenerate(cells, config, plan, ok.loc[missing] if missing else ok.iloc[:1])
        errors = dict(fresh.errors)
        arrays["clean"] = _to_cache(fresh.clean)
        order = manifest["panels"].get(pid, {}).get("order", len(manifest["panels"]))
        manifest["panels"][pid] = {"order": order, "dataset": str(first["dataset"]), "image_id": str(first["image_id"]),
                                   "setting": str(first["setting"]), "noise_key": str(first["noise_key"]),
                                   "repetition": int(first["repetition"]), "file": file.name}
        for row in ok.loc[missing].itertuples():
            if row.denoiser not in fresh.images:
                continue
            name = f"cell_{hashlib.sha1(row.key.encode()).hexdigest()[:16]}"
            arrays[name] = _to_cache(fresh.images[row.denoiser])
            manifest["cells"][row.key] = {"panel": pid, "array": name, "denoiser": str(row.denoiser),
                                          "finished_at": row.finished_at, "psnr": fresh.psnr.get(row.denoiser)}
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{pid}.tmp.npz"
        _save_npz(tmp, arrays)
        tmp.replace(file)
        (cache / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    panel = Panel(str(first["dataset"]), str(first["image_id"]), str(first["setting"]),
                  _from_cache(arrays["clean"]), errors=errors)
    for row in ok.itertuples():
        entry = manifest["cells"].get(row.key)
        if entry is None or entry.get("array") not in arrays or row.denoiser in errors:
            continue
        panel.images[row.denoiser] = _from_cache(arrays[entry["array"]])
        if entry.get("psnr") is not None:
            panel.psnr[row.denoiser] = float(entry["psnr"])
        stored = getattr(row, "psnr", None)
        if stored is not None:
            panel.stored_psnr[row.denoiser] = float(stored)
    return panel


def cached_panels(run_dir) -> list[Panel]:
    """Every panel in the run directory's cache (for the HTML report's image viewer), in manifest order; each
    image keyed by its method label. Reads files only: never replays anything."""
    manifest = read_manifest(run_dir)
    by_panel: dict[str, list] = {}
    for _key, entry in sorted(manifest["cells"].items()):
        by_panel.setdefault(entry.get("panel"), []).append(entry)
    out = []
    for pid, info in sorted(manifest["panels"].items(), key=lambda kv: (kv[1].get("order", 0), kv[0])):
        arrays = _load_arrays(Path(run_dir) / CACHE_DIR / info.get("file", f"{pid}.npz"))
        if "clean" not in arrays:
            continue
        panel = Panel(info["dataset"], info["image_id"], info["setting"], _from_cache(arrays["clean"]))
        for entry in by_panel.get(pid, []):
            if entry.get("array") in arrays:
                panel.images[entry["denoiser"]] = _from_cache(arrays[entry["array"]])
                if entry.get("psnr") is not None:
                    panel.psnr[entry["denoiser"]] = float(entry["psnr"])
        out.append(panel)
    return out
