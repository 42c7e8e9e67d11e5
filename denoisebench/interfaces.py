"""The contracts every plugin implements: Denoiser, NoiseModel, Metric, Dataset, and the NoiseSpec value.

Images follow :mod:`denoisebench.images`: float32 in [0, 1], H×W or H×W×3.
Plugins subclass these bases and register the *class* (not an instance) in a registration hook, so that
listing plugins stays cheap; the harness instantiates with validated parameters when a cell runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import DatasetError, ParameterError

# ----------------------------------------------------------------------------------------------- params


def check_params(owner: str, given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``given`` over ``defaults``; reject unknown names with one line."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ParameterError(
            f"{owner}: unknown parameter {unknown[0]!r}; valid parameters: {', '.join(sorted(defaults)) or '(none)'}"
        )
    return {**defaults, **given}


def params_key(params: Mapping[str, Any]) -> str:
    """Canonical, stable text form of a parameter dict (sorted keys, JSON)."""
    return json.dumps(dict(sorted(params.items())), sort_keys=True, separators=(",", ":"), default=str)


# ----------------------------------------------------------------------------------------------- noise


@dataclass(frozen=True)
class NoiseSpec:
    """A noise model name, its parameters and (optionally) the standard level it came from.

    ``level`` is a display label such as ``"25"`` or ``"10%"``; identity is (model, params).
    """

    model: str
    params: tuple[tuple[str, Any], ...] = ()
    level: str = ""

    @classmethod
    def make(cls, model: str, params: Mapping[str, Any] | None = None, level: str = "") -> NoiseSpec:
        return cls(model, tuple(sorted((params or {}).items())), level)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    # computed once per spec (every cell of a grid row asks for them) and pickled with it
    @cached_property
    def params_text(self) -> str:
        """``params_key`` of the parameters, e.g. ``{"sigma":25}``."""
        return params_key(self.kwargs)

    @cached_property
    def key(self) -> str:
        """Stable identity used in seeds and store keys, e.g. ``gaussian{"sigma":25}``."""
        return f"{self.model}{self.params_text}"

    @property
    def label(self) -> str:
        """Human label, e.g. ``gaussian 25`` or ``mixed sigma=15,amount=0.1``."""
        if self.level:
            return f"{self.model} {self.level}"
        if not self.params:
            return self.model  # a model without parameters, e.g. ``real``
        return f"{self.model} " + ",".join(f"{k}={v}" for k, v in self.params)

    def __str__(self) -> str:
        return self.label


class NoiseModel:
    """A noise model: ``apply(clean, rng) -> noisy``, a pure function of (image, parameters, rng).

    Subclasses set ``name``, ``defaults`` (parameter -> default value), ``levels`` (level label -> params,
    the standard levels a full run uses, in order) and implement :meth:`validate` and :meth:`_apply`.
    Clipping to [0, 1] after the noise is on by default (``clip=True``) and recorded with every result.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    levels: ClassVar[dict[str, dict[str, Any]]] = {}
    #: the convention this model implements, shown in reports
    convention: ClassVar[str] = ""
    #: the parameter a bare number sets in a noise spec (``gaussian:30`` = ``gaussian:sigma=30``); "" for none
    main_param: ClassVar[str] = ""
    #: True for *captured* (real) noise: nothing is drawn; on a paired dataset (``Dataset.paired``) the noisy
    #: image of a cell is the dataset's stored capture, and the spec applies to paired datasets only. Such a model
    #: implements :meth:`estimate` (what a non-blind denoiser is told); ``apply`` returns the image unchanged.
    captured: ClassVar[bool] = False

    def __init__(self, *, clip: bool = True, **params: Any):
        self.params = check_params(f"noise model {self.name!r}", params, self.defaults)
        self.clip = bool(clip)
        self.validate(self.params)

    def validate(self, params: dict[str, Any]) -> None:
        """Raise :class:`ParameterError` (one line: name, value, what to pass) for invalid parameters."""

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noisy = self._apply(np.asarray(clean, dtype=np.float32), rng)
        if self.clip:
            noisy = np.clip(noisy, 0.0, 1.0)
        return noisy.astype(np.float32, copy=False)

    def _apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def estimate(self, noisy: np.ndarray) -> NoiseSpec:
        """For a captured model: the noise spec a non-blind denoiser (``needs_noise_level``) receives for this
        noisy capture, estimated from the image alone, e.g. ``gaussian(sigma=<estimate>)``. Its ``sigma`` (0-255
        units), when it has one, is stored in every row of the cell's task as the value ``noise_sigma``."""
        raise NotImplementedError(f"noise model {self.name!r} does not estimate a noise level")

    @classmethod
    def standard_specs(cls) -> list[NoiseSpec]:
        """The standard levels as specs with complete parameters (defaults filled in)."""
        return [NoiseSpec.make(cls.name, {**cls.defaults, **p}, level) for level, p in cls.levels.items()]


# ----------------------------------------------------------------------------------------------- denoiser


class Denoiser:
    """A denoiser: ``denoise(noisy, *, noise=None, rng=None) -> ndarray`` of the same shape, never mutating input.

    Class attributes are metadata the harness and the report read without instantiating:

    - ``name`` — unique, stable, lower-case identifier (``[a-z0-9_]+``).
    - ``defaults`` — every parameter with its default value.
    - ``param_grid`` — parameter -> list of values worth comparing: ``denoisebench run --sweep`` runs every
      combination (one cell, and one table row, per parameter set).
    - ``handles_color`` — False means the harness denoises colour images channel by channel.
    - ``needs_noise_level`` — True for non-blind methods that read ``noise`` (a :class:`NoiseSpec`).
    - ``requires`` — distribution names needed at run time (reported when missing).
    - ``deterministic`` — same input, same output (the conformance kit checks it).

    ``default_params(noise)`` returns the parameters a run uses for a noise spec (a sensible default per noise
    type); the parameters actually used are recorded in every result row.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    param_grid: ClassVar[dict[str, list[Any]]] = {}
    handles_color: ClassVar[bool] = True
    needs_noise_level: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    deterministic: ClassVar[bool] = True

    def __init__(self, **params: Any):
        self.params = check_params(f"denoiser {self.name!r}", params, self.defaults)
        self.validate(self.params)

    def validate(self, params: dict[str, Any]) -> None:
        """Raise :class:`ParameterError` for invalid parameters."""

    @classmethod
    def default_params(cls, noise: NoiseSpec | None = None) -> dict[str, Any]:
        """Parameters to use for ``noise`` (default: ``defaults``). Override for per-noise-type defaults."""
        return dict(cls.defaults)

    def denoise(self, noisy: np.ndarray, *, noise: NoiseSpec | None = None,
                rng: np.random.Generator | None = None) -> np.ndarray:
        raise NotImplementedError

    def denoise_batch(self, batch: list[np.ndarray], *, noise: NoiseSpec | None = None,
                      rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Optional batched entry point (neural models override it for throughput)."""
        return [self.denoise(x, noise=noise, rng=rng) for x in batch]

    def close(self) -> None:
        """Release resources (models, pools). Called when a worker is done."""


# ----------------------------------------------------------------------------------------------- metric


class Metric:
    """A full-reference image metric: ``compute(reference, estimate) -> float``.

    ``higher_is_better`` gives the direction; ``convention`` states what is computed (data range, colour
    handling, crop) and is recorded with the run. ``requires`` lists distributions needed at run time; a
    metric that cannot run raises :class:`denoisebench.errors.UnavailableError` from :meth:`setup`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    convention: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    #: display label in tables (default: the name upper-cased), e.g. "PSNR"; the unit is appended by reports
    label: ClassVar[str] = ""
    #: display format of one value, a ``str.format`` spec such as "{:.2f}"
    format: ClassVar[str] = "{:.4f}"
    #: the values the metric can take, (low, high); None where unbounded (reports keep intervals inside it)
    value_range: ClassVar[tuple[float | None, float | None]] = (None, None)
    #: sort key in tables: lower comes first (psnr 0, ssim 1; plugin metrics default to 50)
    order: ClassVar[int] = 50
    #: False for bookkeeping values (e.g. pixel counts) that summary tables should not average
    summary: ClassVar[bool] = True
    #: the smallest image side the metric accepts (MS-SSIM at 5 scales needs 176); the conformance kit tests at it
    min_side: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ()
    #: identity value: compute(x, x) for any image x (None if not defined)
    identity: ClassVar[float | None] = None
    symmetric: ClassVar[bool] = True

    def __init__(self, **options: Any):
        self.options = options

    @classmethod
    def meta(cls) -> dict[str, Any]:
        """What a table needs to know about this metric, stored with every run (see :mod:`denoisebench.metricmeta`)."""
        return {"name": cls.name, "higher_is_better": bool(cls.higher_is_better), "label": cls.label or cls.name.upper(),
                "unit": cls.unit, "format": cls.format, "convention": cls.convention,
                "range": list(cls.value_range), "order": int(cls.order), "summary": bool(cls.summary)}

    def __call__(self, reference: np.ndarray, estimate: np.ndarray) -> float:
        return self.compute(reference, estimate)

    def setup(self) -> None:
        """Load what is needed (weights, ...). Raise UnavailableError with one line if impossible."""

    def compute(self, reference: np.ndarray, estimate: np.ndarray) -> float:
        raise NotImplementedError

    def compute_batch(self, references: list[np.ndarray], estimates: list[np.ndarray]) -> list[float]:
        return [self.compute(r, e) for r, e in zip(references, estimates)]


# ----------------------------------------------------------------------------------------------- dataset


@dataclass
class ImageRecord:
    image_id: str
    image: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


class Dataset:
    """A named, ordered collection of clean images — or of pairs (a real noisy capture and its reference).

    Subclasses implement :meth:`ids` and :meth:`load`; both must be cheap to call again in another process
    (workers rebuild a dataset from its name and options and load images by id).
    ``options`` are plain JSON-able values (paths as strings) so a dataset can be rebuilt from its spec.

    **Paired datasets** (optional; every other dataset is unaffected): set ``paired = True`` and implement
    :meth:`noisy` — the real noisy capture of an image id, same shape as :meth:`load` (the reference).
    Their cells get the captured noise setting ``real`` (the stored capture is every denoiser's input); a
    synthetic ``--noise`` on a paired dataset is applied to the reference. :meth:`pair` loads both and refuses
    a size or channel mismatch with one line naming both files (:meth:`pair_files`).

    **Groups** (optional, any dataset): :meth:`groups` maps an image id to labels such as
    ``{"camera": "Canon80D", "iso": "3200"}``; the report adds a breakdown table per label when they are given.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    color: ClassVar[bool] = False
    license: ClassVar[str] = ""
    #: True: each image id has a real noisy capture (:meth:`noisy`) besides its reference (:meth:`load`)
    paired: ClassVar[bool] = False

    def __init__(self, **options: Any):
        self.options = options

    def ids(self) -> list[str]:
        raise NotImplementedError

    def load(self, image_id: str) -> np.ndarray:
        raise NotImplementedError

    def provenance(self, image_id: str) -> dict[str, Any]:
        return {"dataset": self.name, "image_id": image_id}

    def noisy(self, image_id: str) -> np.ndarray:
        """The real noisy capture of ``image_id`` (paired datasets only), same shape as ``load(image_id)``."""
        raise DatasetError(f"dataset {self.name!r} is not paired: it has no noisy captures")

    def pair_files(self, image_id: str) -> tuple[str, str]:
        """(reference, noisy capture) as the files (or file and key) they come from, for error messages."""
        prov = self.provenance(image_id)
        return (str(prov.get("path", f"{self.name}/{image_id} reference")),
                str(prov.get("noisy_path", f"{self.name}/{image_id} noisy capture")))

    def pair(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(reference, noisy capture) of ``image_id``; a size or channel-count mismatch is a one-line
        :class:`DatasetError` naming both files."""
        clean, noisy = self.load(image_id), self.noisy(image_id)
        if clean.shape != noisy.shape:
            ref, cap = self.pair_files(image_id)
            what = "channel count" if clean.shape[:2] == noisy.shape[:2] else "size"
            raise DatasetError(f"dataset {self.name!r}, pair {image_id!r}: {what} differs: reference {ref} is "
                               f"{_shape(clean)}, noisy capture {cap} is {_shape(noisy)}; both images of a pair "
                               "must have the same height, width and channels")
        return clean, noisy

    def groups(self, image_id: str) -> dict[str, str]:
        """Labels of ``image_id`` for breakdown tables (e.g. camera, ISO); empty: no breakdown."""
        return {}

    def __iter__(self) -> Iterator[ImageRecord]:
        for image_id in self.ids():
            yield ImageRecord(image_id, self.load(image_id), self.provenance(image_id))

    def __len__(self) -> int:
        return len(self.ids())


def _shape(image: np.ndarray) -> str:
    h, w = image.shape[:2]
    return f"{w}x{h}" + (f"x{image.shape[2]}" if image.ndim == 3 else " gray")
