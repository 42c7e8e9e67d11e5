"""Re-creating a few cells' images at report time (outputs are not stored): the same dataset spec, seed, noise
spec and parameters as the stored run, through the worker's own code (:func:`denoisebench.engine.worker.replay_task`) (common random numbers make it exact for
deterministic denoisers). Used by the visual-comparison figure only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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
