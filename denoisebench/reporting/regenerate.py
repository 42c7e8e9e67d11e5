"""Re-creating a few cells' images at report time (outputs are not stored): the same dataset spec, seed, noise
spec and parameters as the stored run, through the worker's own code (common random numbers make it exact for
deterministic denoisers). Used by the visual-comparison figure only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from denoisebench.config import NOISY
from denoisebench.interfaces import NoiseSpec, params_key
from denoisebench.results import Cell


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


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def regenerate(cells, config: dict, plan: dict, rows) -> Panel:
    """Recompute the images of the ok cells in ``rows`` (one image × noise setting × repetition)."""
    from denoisebench.seeding import cell_rng, cell_seed
    from denoisebench.worker import _denoise, get_state

    first = rows.iloc[0]
    spec_by_label = {label: spec for spec, label in plan.get("datasets", {}).items()}
    ds_spec = spec_by_label.get(first["dataset"], first["dataset"])
    state = get_state(tuple(config.get("disable_plugins", ())))
    clean = state.dataset(ds_spec).load(first["image_id"])
    noise = NoiseSpec.make(first["noise"], json.loads(first["noise_params"] or "{}"), first["noise_level"] or "")
    seed = cell_seed(config.get("seed", 0), first["dataset"], first["image_id"], noise.key, int(first["repetition"]))
    model = state.plugins.noise_models.get(noise.model)(clip=bool(config.get("clip", True)), **noise.kwargs)
    noisy = model.apply(clean, cell_rng(seed))
    panel = Panel(first["dataset"], first["image_id"], first["setting"], clean)
    for row in rows.itertuples():
        if row.status != "ok":
            continue
        params = json.loads(row.params or "{}")
        if row.denoiser == NOISY:
            out = noisy
        else:
            cell = Cell(row.dataset, row.image_id, noise, row.denoiser, tuple(sorted(params.items())),
                        int(row.repetition), bool(config.get("clip", True)), int(config.get("seed", 0)))
            try:
                den = state.denoiser(cell)
                rng = cell_rng(cell_seed(seed, row.denoiser, params_key(params), "denoiser", 0))
                out = _denoise(den, noisy, cell, rng)
            except Exception as exc:  # contained: the tile says what went wrong
                panel.errors[row.denoiser] = f"{type(exc).__name__}: {exc}"
                continue
        panel.images[row.denoiser] = out
        panel.psnr[row.denoiser] = _psnr(clean, out)
        stored = getattr(row, "psnr", None)
        if stored is not None:
            panel.stored_psnr[row.denoiser] = float(stored)
    return panel
