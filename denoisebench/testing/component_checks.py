"""Conformance checks for noise models, metrics and datasets."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np

from denoisebench.errors import DenoiseBenchError, UnavailableError
from denoisebench.registry import NAME_RE
from denoisebench.testing.base import (
    BAD_NUMBERS,
    CheckFailed,
    CheckSkipped,
    Subject,
    check,
    expect_parameter_errors,
)
from denoisebench.testing.images import SHAPE, add_gaussian, color_image, gray_image

MAX_IMAGES = 3


def _name(subject: Subject) -> None:
    name = subject.cls.__dict__.get("name", getattr(subject.cls, "name", ""))
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CheckFailed(f"name {name!r} is not a lower-case identifier; set name = 'my_name' on the class")
    plugins = subject.plugins
    registry = getattr(plugins, {"noise_model": "noise_models", "metric": "metrics",
                                 "dataset": "datasets"}[subject.kind], None) if plugins is not None else None
    if registry is not None and name in registry and registry.get(name) is not subject.cls:
        raise CheckFailed(f"name {name!r} is already registered by {registry.provider(name)}; choose another name")


def _one_line(exc: Exception, what: str) -> None:
    if "\n" in str(exc):
        raise CheckFailed(f"the error for {what} spans several lines; keep it to one")


# ----------------------------------------------------------------------------------------------- noise models


@check("noise_model", "name")
def check_noise_name(subject: Subject) -> None:
    _name(subject)


@check("noise_model", "levels")
def check_noise_levels(subject: Subject) -> None:
    """Every standard level names known parameters and instantiates; specs carry this model's name."""
    cls = subject.cls
    if not cls.levels and not getattr(cls, "captured", False):  # captured (real) noise has no levels
        raise CheckFailed("levels is empty; give the standard levels a full run uses, e.g. {'25': {'sigma': 25}}")
    for level, params in cls.levels.items():
        try:
            subject.build(**params)
        except Exception as exc:
            raise CheckFailed(f"level {level!r} {params} does not instantiate: {type(exc).__name__}: {exc}") from exc
    if any(spec.model != cls.name for spec in cls.standard_specs()):
        raise CheckFailed("standard_specs() returns specs for another model name")
    if not cls.convention:
        raise CheckFailed("convention is empty; state the definition, e.g. 'y = x + n, n ~ N(0, (sigma/255)^2)'")


@check("noise_model", "parameter_validation")
def check_noise_parameter_validation(subject: Subject) -> None:
    """Unknown names and bad values ('abc', None, NaN for numeric parameters) raise a one-line ParameterError."""
    cases = [({"no_such_parameter_xyz": 1}, "an unknown parameter")]
    for key, default in subject.cls.defaults.items():
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            cases += [({key: bad}, f"{key}={bad!r}") for bad in BAD_NUMBERS]
    expect_parameter_errors(subject.build, cases, "validate()")


@check("noise_model", "seeded_determinism")
def check_noise_seeded_determinism(subject: Subject) -> None:
    """Same seed -> same noisy image; another seed -> another one; global numpy RNG state is not touched."""
    model = subject.build()
    clean = gray_image()
    state = np.random.get_state()[1].copy()
    a = model.apply(clean, np.random.default_rng(1))
    b = model.apply(clean, np.random.default_rng(1))
    c = model.apply(clean, np.random.default_rng(2))
    if not np.array_equal(np.random.get_state()[1], state):
        raise CheckFailed("apply() used the global numpy RNG; draw only from the rng argument")
    if not np.array_equal(a, b):
        raise CheckFailed("two applications with the same seed differ; draw only from the rng argument")
    if np.array_equal(a, c) and not np.array_equal(a, clean):
        raise CheckFailed("two different seeds gave the same noise; draw from the rng argument")


@check("noise_model", "shape_dtype_range")
def check_noise_shape_dtype_range(subject: Subject) -> None:
    """Gray and colour inputs keep their shape, come back float32, in [0, 1] when clipping; input untouched."""
    model = subject.build()
    for clean in (gray_image(), color_image()):
        before = clean.copy()
        out = model.apply(clean, np.random.default_rng(0))
        if not np.array_equal(clean, before):
            raise CheckFailed("apply() modified its input; work on a copy")
        if not isinstance(out, np.ndarray) or out.shape != clean.shape or out.dtype != np.float32:
            raise CheckFailed(f"apply() on {clean.shape} float32 returned {getattr(out, 'shape', '?')} "
                              f"{getattr(out, 'dtype', type(out).__name__)}; return float32 of the same shape")
        if not np.all(np.isfinite(out)) or (model.clip and (out.min() < 0 or out.max() > 1)):
            raise CheckFailed(f"apply() returned values in [{out.min():.4g}, {out.max():.4g}] with clip=True")


# ----------------------------------------------------------------------------------------------- metrics


def _shape(subject: Subject) -> tuple[int, int]:
    """The kit's test shape, enlarged to the metric's declared ``min_side`` (MS-SSIM needs 176, VIF 72)."""
    side = int(getattr(subject.cls, "min_side", 1) or 1)
    h, w = SHAPE
    return (max(h, side), max(w, -(-side * w // h)))


def _metric(subject: Subject):
    metric = subject.build()
    try:
        metric.setup()
    except UnavailableError as exc:
        raise CheckSkipped(f"unavailable here: {exc}") from exc
    return metric


def _value(metric, ref, est, what: str) -> float:
    v = metric.compute(ref, est)
    if not isinstance(v, (float, np.floating)) or isinstance(v, bool):
        raise CheckFailed(f"compute() on {what} returned {type(v).__name__}; return a float")
    return float(v)


@check("metric", "name")
def check_metric_name(subject: Subject) -> None:
    _name(subject)
    cls = subject.cls
    if not isinstance(cls.higher_is_better, bool) or not isinstance(cls.symmetric, bool):
        raise CheckFailed("higher_is_better and symmetric must be True or False")
    if not cls.convention:
        raise CheckFailed("convention is empty; state data range, colour handling and crop")


@check("metric", "identity")
def check_metric_identity(subject: Subject) -> None:
    """compute(x, x) equals the declared ``identity`` (gray and colour)."""
    ident = subject.cls.identity
    if ident is None:
        raise CheckSkipped("no identity value declared (identity = None)")
    metric = _metric(subject)
    for x in (gray_image(_shape(subject)), color_image(_shape(subject))):
        v = _value(metric, x, x.copy(), "identical images")
        same = (v == ident) if math.isinf(ident) else math.isclose(v, ident, rel_tol=1e-6, abs_tol=1e-6)
        if not same:
            raise CheckFailed(f"compute(x, x) = {v!r} on a {x.ndim}-D image but identity = {ident!r}")


@check("metric", "direction")
def check_metric_direction(subject: Subject) -> None:
    """A lightly degraded estimate scores better than a heavily degraded one, per ``higher_is_better``;
    the identity value (if declared) is at least as good as both."""
    metric = _metric(subject)
    cls = subject.cls
    for clean in (gray_image(_shape(subject)), color_image(_shape(subject))):
        light = _value(metric, clean, add_gaussian(clean, 5.0, seed=1), "light noise")
        heavy = _value(metric, clean, add_gaussian(clean, 50.0, seed=1), "heavy noise")
        better = light > heavy if cls.higher_is_better else light < heavy
        if not better:
            raise CheckFailed(f"light noise scored {light:.4g}, heavy noise {heavy:.4g}, but higher_is_better = "
                              f"{cls.higher_is_better}; fix the direction")
        if cls.identity is not None:
            ok = cls.identity >= light if cls.higher_is_better else cls.identity <= light
            if not ok:
                raise CheckFailed(f"identity {cls.identity} is worse than a noisy estimate ({light:.4g})")


@check("metric", "symmetry")
def check_metric_symmetry(subject: Subject) -> None:
    """With ``symmetric = True``: compute(a, b) == compute(b, a)."""
    if not subject.cls.symmetric:
        raise CheckSkipped("declared symmetric = False")
    metric = _metric(subject)
    a, b = gray_image(_shape(subject)), add_gaussian(gray_image(_shape(subject)), 25.0)
    ab, ba = _value(metric, a, b, "a, b"), _value(metric, b, a, "b, a")
    if not math.isclose(ab, ba, rel_tol=1e-5, abs_tol=1e-7):
        raise CheckFailed(f"compute(a, b) = {ab:.6g} but compute(b, a) = {ba:.6g}; declare symmetric = False")


@check("metric", "no_input_mutation")
def check_metric_no_input_mutation(subject: Subject) -> None:
    metric = _metric(subject)
    ref, est = color_image(_shape(subject)), add_gaussian(color_image(_shape(subject)))
    ref0, est0 = ref.copy(), est.copy()
    _value(metric, ref, est, "colour images")
    if not (np.array_equal(ref, ref0) and np.array_equal(est, est0)):
        raise CheckFailed("compute() modified an input array; work on copies")


# ----------------------------------------------------------------------------------------------- datasets


def _dataset(subject: Subject):
    try:
        return subject.build()
    except Exception as exc:
        raise CheckFailed(f"does not instantiate with options {dict(subject.options)}: "
                          f"{type(exc).__name__}: {exc}") from exc


@check("dataset", "name")
def check_dataset_name(subject: Subject) -> None:
    _name(subject)
    if not isinstance(subject.cls.color, bool):
        raise CheckFailed(f"color = {subject.cls.color!r}; set it to True or False")
    if not subject.cls.license:
        raise CheckFailed("license is empty; state the images' licence (or 'unknown')")


@check("dataset", "ids_stable")
def check_dataset_ids_stable(subject: Subject) -> None:
    """ids() is a non-empty list of unique strings, the same on every call and from a fresh instance."""
    ids = _dataset(subject).ids()
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise CheckFailed(f"ids() returned {ids!r:.80}; return a non-empty list of image id strings")
    if len(set(ids)) != len(ids):
        raise CheckFailed("ids() contains duplicates; ids must identify images")
    if ids != _dataset(subject).ids() or ids != _dataset(subject).ids():
        raise CheckFailed("ids() changes between calls or instances; return them in a fixed order")


@check("dataset", "images_follow_conventions")
def check_dataset_images(subject: Subject) -> None:
    """The first images are float32 in [0, 1], H×W (``color = False``) or H×W×3 (``color = True``), and load
    the same way twice."""
    ds = _dataset(subject)
    for image_id in ds.ids()[:MAX_IMAGES]:
        img = ds.load(image_id)
        where = f"image {image_id!r}"
        if not isinstance(img, np.ndarray) or img.dtype != np.float32:
            raise CheckFailed(f"{where}: {getattr(img, 'dtype', type(img).__name__)}; return float32 "
                              f"(denoisebench.images.to_float converts)")
        want = 3 if subject.cls.color else 2
        if img.ndim != want or (want == 3 and img.shape[2] != 3):
            raise CheckFailed(f"{where}: shape {img.shape} but color = {subject.cls.color}; return "
                              f"{'H×W×3' if want == 3 else 'H×W'} or change color")
        if not np.all(np.isfinite(img)) or img.min() < 0 or img.max() > 1:
            raise CheckFailed(f"{where}: values outside [0, 1]")
        if not np.array_equal(img, _dataset(subject).load(image_id)):
            raise CheckFailed(f"{where}: loads differently the second time")


@check("dataset", "provenance_and_errors")
def check_dataset_provenance(subject: Subject) -> None:
    """provenance() is a JSON-able dict naming the image; an unknown id is a one-line DenoiseBenchError;
    the dataset pickles (workers rebuild it in other processes)."""
    ds = _dataset(subject)
    first = ds.ids()[0]
    prov = ds.provenance(first)
    if not isinstance(prov, dict) or prov.get("image_id") != first:
        raise CheckFailed(f"provenance({first!r}) must be a dict with image_id = {first!r}")
    try:
        json.dumps(prov)
    except TypeError as exc:
        raise CheckFailed(f"provenance is not JSON-serialisable: {exc}") from exc
    try:
        ds.load("__no_such_image__")
    except DenoiseBenchError as exc:
        _one_line(exc, "an unknown id")
    except Exception as exc:
        raise CheckFailed(f"an unknown id raised {type(exc).__name__}; raise DatasetError naming it") from exc
    else:
        raise CheckFailed("load('__no_such_image__') returned an image; raise DatasetError for unknown ids")
    try:
        pickle.loads(pickle.dumps(ds))
    except Exception as exc:
        raise CheckFailed(f"the dataset does not pickle ({type(exc).__name__}: {exc}); define it at module level") from exc
