"""Cells, tasks and cell results: the unit of work and of storage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from denoisebench.interfaces import NoiseSpec, params_key

STATUSES = ("ok", "error", "skipped", "timeout", "unavailable")
#: statuses a resumed run does not redo (failures are never cached as done)
DONE_STATUSES = ("ok", "skipped", "unavailable")


def cell_key(dataset: str, image_id: str, noise: NoiseSpec, clip: bool, denoiser: str,
             params_text: str, repetition: int, base_seed: int, quantize: str = "none") -> str:
    """``params_text``: ``params_key`` of the denoiser parameters."""
    parts = [dataset, image_id, noise.key, f"clip={int(clip)}", denoiser, params_text, str(repetition),
             str(base_seed)]
    if quantize != "none":  # keys of unquantized cells are those of earlier versions
        parts.append(f"quantize={quantize}")
    text = "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Cell:
    """One (dataset, image, noise spec, denoiser, params, repetition) combination."""

    dataset: str
    image_id: str
    noise: NoiseSpec
    denoiser: str
    params: tuple[tuple[str, Any], ...]
    repetition: int
    clip: bool
    base_seed: int
    quantize: str = "none"

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    # computed once per cell (the planner, the runner and the worker all ask for them) and pickled with it
    @cached_property
    def params_text(self) -> str:
        """``params_key`` of the denoiser parameters."""
        return params_key(self.param_dict)

    @property
    def noise_params_text(self) -> str:
        """``params_key`` of the noise parameters (computed once per noise spec)."""
        return self.noise.params_text

    @cached_property
    def key(self) -> str:
        return cell_key(self.dataset, self.image_id, self.noise, self.clip, self.denoiser, self.params_text,
                        self.repetition, self.base_seed, self.quantize)


@dataclass(frozen=True)
class Task:
    """The unit shipped to a worker: one image × one noise spec × one repetition, with its pending cells.

    The worker loads the image from ``dataset_spec``, draws the noise once (common random numbers) and runs
    every cell on that same noisy image.
    """

    dataset_spec: str
    image_id: str
    noise: NoiseSpec
    repetition: int
    clip: bool
    base_seed: int
    cells: tuple[Cell, ...]
    metrics: tuple[str, ...]
    #: (metric name, ((option, value), ...)) for metrics run with non-default options
    metric_options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    #: seconds one denoiser call may take before its cell becomes a ``timeout`` row; 0: no limit
    timeout: float = 0.0
    #: "uint8": every scored image (outputs and the noisy row) is rounded to 8-bit levels first (KAIR protocol)
    quantize: str = "none"

    def prepare(self) -> None:
        """Compute (and cache) each cell's key and parameter text now. They are pickled with the cells, so a
        process with time to spare (the pool's, while its workers run) spares the worker computing them."""
        for cell in self.cells:
            cell.key  # noqa: B018 (a cached property)


@dataclass
class CellResult:
    key: str
    dataset: str
    image_id: str
    noise: str
    noise_level: str
    noise_params: str
    noise_key: str
    clip: bool
    denoiser: str
    params: str
    repetition: int
    seed: int
    status: str
    error: str = ""
    seconds: float | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)
    provider: str = ""
    shape: str = ""
    finished_at: str = ""

    @classmethod
    def for_cell(cls, cell: Cell, seed: int, status: str, **kw: Any) -> CellResult:
        noise_params = cell.noise_params_text
        return cls(
            key=cell.key, dataset=cell.dataset, image_id=cell.image_id, noise=cell.noise.model,
            noise_level=cell.noise.level, noise_params=noise_params, noise_key=cell.noise.model + noise_params,
            clip=cell.clip, denoiser=cell.denoiser, params=cell.params_text,
            repetition=cell.repetition, seed=seed, status=status, **kw,
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a new dict (the two mappings copied; values are plain numbers and strings)."""
        row = {f: getattr(self, f) for f in _FIELDS}
        row["metrics"] = dict(self.metrics)
        row["metric_errors"] = dict(self.metric_errors)
        return row

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


_FIELDS = tuple(f.name for f in fields(CellResult))
