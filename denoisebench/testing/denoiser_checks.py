"""Conformance checks for :class:`denoisebench.interfaces.Denoiser` subclasses.

The contract (DESIGN.md): ``denoise(noisy, *, noise=None, rng=None)`` returns an array of the input's shape
and dtype (float32 in, float32 out) with finite values in [0, 1], never mutates its input, is deterministic
when it says so (and then never touches numpy's global RNG), handles colour unless ``handles_color = False``
(then the harness feeds it one channel at a time), changes a noisy image (returning the input is not
denoising), rejects invalid parameter values with a one-line ParameterError, and every value of ``param_grid``
and every per-noise default instantiates.
"""

from __future__ import annotations

import itertools

import numpy as np

from denoisebench.errors import DenoiseBenchError, ParameterError
from denoisebench.registry import NAME_RE
from denoisebench.testing.base import (
    CheckFailed,
    CheckSkipped,
    Subject,
    check,
    expect_parameter_errors,
    invalid_values,
)
from denoisebench.testing.images import (
    GAUSSIAN_25,
    STANDARD_NOISE,
    add_gaussian,
    add_salt_pepper,
    color_image,
    gray_image,
)

RANGE_TOL = 1e-6
MAX_GRID = 64


def _make(subject: Subject, noise=GAUSSIAN_25, **params):
    return subject.build(**{**subject.cls.default_params(noise), **params})


def _noise_arg(den, noise=GAUSSIAN_25):
    return noise if den.needs_noise_level else None


def _run(den, noisy: np.ndarray, noise=GAUSSIAN_25, seed: int = 0) -> np.ndarray:
    return den.denoise(noisy, noise=_noise_arg(den, noise), rng=np.random.default_rng(seed))


def _check_output(out, noisy: np.ndarray, what: str, dtype: bool = True) -> None:
    """Shape, (optionally) dtype, finiteness and range; each check reports its own property first."""
    if not isinstance(out, np.ndarray):
        raise CheckFailed(f"{what}: returned {type(out).__name__}; return a numpy.ndarray")
    if out.shape != noisy.shape:
        raise CheckFailed(f"{what}: returned shape {out.shape} for input {noisy.shape}; keep the input's shape")
    if dtype and out.dtype != noisy.dtype:
        raise CheckFailed(f"{what}: returned dtype {out.dtype} for {noisy.dtype} input; return {noisy.dtype}")
    if not np.all(np.isfinite(out)):
        raise CheckFailed(f"{what}: returned NaN or inf")
    lo, hi = float(out.min()), float(out.max())
    if lo < -RANGE_TOL or hi > 1 + RANGE_TOL:
        raise CheckFailed(f"{what}: values span [{lo:.4g}, {hi:.4g}]; clip the output to [0, 1]")


@check("denoiser", "name")
def check_name(subject: Subject) -> None:
    """The name is a stable, lower-case identifier (a class attribute) and no other class holds it."""
    cls = subject.cls
    name = cls.__dict__.get("name", getattr(cls, "name", ""))
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CheckFailed(f"name {name!r} is not a lower-case identifier; set name = 'my_filter' on the class")
    den = _make(subject)
    if den.name != name:
        raise CheckFailed(f"instance name {den.name!r} differs from class name {name!r}; do not change name per instance")
    plugins = subject.plugins
    if plugins is not None and name in plugins.denoisers and plugins.denoisers.get(name) is not cls:
        other = plugins.denoisers.provider(name)
        raise CheckFailed(f"name {name!r} is already registered by {other}; choose another name")


@check("denoiser", "metadata")
def check_metadata(subject: Subject) -> None:
    """Flags are booleans, ``requires`` a tuple of distribution names, grid parameters exist in ``defaults``."""
    cls = subject.cls
    for flag in ("handles_color", "needs_noise_level", "deterministic"):
        if not isinstance(getattr(cls, flag), bool):
            raise CheckFailed(f"{flag} = {getattr(cls, flag)!r}; set it to True or False")
    if not isinstance(cls.defaults, dict) or not isinstance(cls.param_grid, dict):
        raise CheckFailed("defaults and param_grid must be dicts (parameter -> value / list of values)")
    if not isinstance(cls.requires, (tuple, list)) or not all(isinstance(r, str) for r in cls.requires):
        raise CheckFailed(f"requires = {cls.requires!r}; pass a tuple of distribution names, e.g. ('bm3d',)")
    unknown = sorted(set(cls.param_grid) - set(cls.defaults))
    if unknown:
        raise CheckFailed(f"param_grid names {unknown[0]!r}, which is not in defaults; add it to defaults")
    for key, values in cls.param_grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise CheckFailed(f"param_grid[{key!r}] = {values!r}; pass a non-empty list of values")
    if not cls.description:
        raise CheckFailed("description is empty; say in one line what the method is (shown by `denoisebench list`)")


@check("denoiser", "grid_instantiates")
def check_grid_instantiates(subject: Subject) -> None:
    """Every grid point (all combinations, or each value alone when there are more than 64) and the
    per-noise defaults for every standard noise type build an instance; an unknown parameter is a
    one-line ParameterError."""
    cls = subject.cls
    keys = list(cls.param_grid)
    combos = list(itertools.product(*(cls.param_grid[k] for k in keys)))
    if len(combos) > MAX_GRID:
        points = [{k: v} for k in keys for v in cls.param_grid[k]]
    else:
        points = [dict(zip(keys, c)) for c in combos]
    for point in points:
        try:
            _make(subject, **point)
        except Exception as exc:
            raise CheckFailed(f"grid point {point} does not instantiate: {type(exc).__name__}: {exc}") from exc
    for spec in STANDARD_NOISE:
        try:
            _make(subject, noise=spec)
        except Exception as exc:
            raise CheckFailed(f"default_params({spec.label}) does not instantiate: {type(exc).__name__}: {exc}") from exc
    try:
        subject.build(no_such_parameter_xyz=1)
    except ParameterError as exc:
        if "\n" in str(exc):
            raise CheckFailed("the ParameterError for an unknown parameter spans several lines; keep it to one") from exc
    except Exception as exc:
        raise CheckFailed(f"an unknown parameter raised {type(exc).__name__}, not ParameterError; "
                          f"call super().__init__(**params) (it uses check_params)") from exc
    else:
        raise CheckFailed("an unknown parameter was accepted silently; call super().__init__(**params)")


@check("denoiser", "parameter_validation")
def check_parameter_validation(subject: Subject) -> None:
    """Obviously invalid values for each declared parameter (by its default's type: 'abc', None, NaN and -1
    for a positive number, a number for a string, a string for a boolean) raise a one-line ParameterError."""
    base = subject.cls.default_params(GAUSSIAN_25)
    cases = [({**base, key: bad}, f"{key}={bad!r}")
             for key, default in subject.cls.defaults.items() for bad in invalid_values(default)]
    if not cases:
        raise CheckSkipped("no parameter with a number, string or boolean default to try invalid values on")
    expect_parameter_errors(subject.build, cases, "validate()")


@check("denoiser", "shape_and_dtype")
def check_shape_and_dtype(subject: Subject) -> None:
    """float32 gray in -> float32 ndarray of the same shape, finite, in [0, 1]."""
    noisy = add_gaussian(gray_image())
    _check_output(_run(_make(subject), noisy), noisy, "gray float32 input")


@check("denoiser", "values_in_range")
def check_values_in_range(subject: Subject) -> None:
    """Outputs stay in [0, 1] on extreme inputs too: all-black, all-white and unclipped noisy images."""
    den = _make(subject)
    base = gray_image()
    cases = {
        "all-zero image": np.zeros_like(base),
        "all-one image": np.ones_like(base),
        "sigma-50 noisy image": add_gaussian(base, 50.0, seed=3),
    }
    for what, noisy in cases.items():
        _check_output(np.asarray(_run(den, noisy)), noisy, what, dtype=False)


@check("denoiser", "no_input_mutation")
def check_no_input_mutation(subject: Subject) -> None:
    """The input array is left untouched, and a read-only input is accepted."""
    den = _make(subject)
    noisy = add_gaussian(gray_image())
    before = noisy.copy()
    _run(den, noisy)
    if not np.array_equal(noisy, before):
        raise CheckFailed("denoise() modified its input array; work on a copy")
    frozen = before.copy()
    frozen.setflags(write=False)
    try:
        _run(den, frozen)
    except ValueError as exc:
        raise CheckFailed(f"denoise() fails on a read-only input ({exc}); it must not write to its input") from exc


@check("denoiser", "deterministic")
def check_deterministic(subject: Subject) -> None:
    """With ``deterministic = True``: the same input gives the same output, again and from a fresh instance."""
    if not subject.cls.deterministic:
        raise CheckSkipped("declared deterministic = False")
    noisy = add_gaussian(gray_image())
    first = _run(_make(subject), noisy)
    again = _run(_make(subject), noisy, seed=1)
    if not np.array_equal(first, again):
        diff = float(np.max(np.abs(np.asarray(first, np.float64) - np.asarray(again, np.float64))))
        raise CheckFailed(f"two runs on the same input differ (max |diff| {diff:.3g}); "
                          f"fix the randomness or declare deterministic = False")


@check("denoiser", "no_global_rng")
def check_no_global_rng(subject: Subject) -> None:
    """With ``deterministic = True``: building and calling the denoiser leaves numpy's global RNG state alone
    (no ``np.random.*`` functions, no ``np.random.seed``), and its output does not change when the global RNG
    is seeded differently."""
    if not subject.cls.deterministic:
        raise CheckSkipped("declared deterministic = False")
    noisy = add_gaussian(gray_image())
    saved = np.random.get_state()
    try:
        np.random.seed(12345)
        before = np.random.get_state()
        first = _run(_make(subject), noisy)
        after = np.random.get_state()
        if not (before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]):
            raise CheckFailed("denoise() draws from (or reseeds) numpy's global RNG (np.random.* functions) but "
                              "declares deterministic = True; draw from the rng argument or declare "
                              "deterministic = False")
        np.random.seed(54321)
        second = _run(_make(subject), noisy)
        if not np.array_equal(first, second):
            raise CheckFailed("the output changes with numpy's global RNG seed but the denoiser declares "
                              "deterministic = True; draw from the rng argument or declare deterministic = False")
    finally:
        np.random.set_state(saved)


@check("denoiser", "changes_input")
def check_changes_input(subject: Subject) -> None:
    """The output is not the noisy input returned unchanged (on a Gaussian and a salt-and-pepper noisy image,
    with the per-noise default parameters): a denoiser that does nothing would score as the noisy input."""
    clean = gray_image()
    cases = ((GAUSSIAN_25, add_gaussian(clean)), (STANDARD_NOISE[2], add_salt_pepper(clean, 0.1)))
    for spec, noisy in cases:
        out = np.asarray(_run(_make(subject, noise=spec), noisy.copy(), noise=spec))
        if out.shape != noisy.shape or not np.allclose(out, noisy, rtol=0.0, atol=1e-6):
            return
    raise CheckFailed(f"denoise() returned its input unchanged on {' and '.join(s.label for s, _ in cases)} noisy "
                      f"images; return the denoised image")


@check("denoiser", "gray_and_colour")
def check_gray_and_colour(subject: Subject) -> None:
    """With ``handles_color = True``: an H×W×3 input gives H×W×3 float32 in [0, 1], channels kept apart
    in order (not collapsed to gray)."""
    if not subject.cls.handles_color:
        raise CheckSkipped("declared handles_color = False: the harness denoises colour one channel at a time")
    noisy = add_gaussian(color_image())
    out = _run(_make(subject), noisy)
    _check_output(out, noisy, "colour float32 input")
    clean = color_image()
    errs = [[float(np.mean((out[..., i] - clean[..., j]) ** 2)) for j in range(3)] for i in range(3)]
    wrong = [i for i in range(3) if int(np.argmin(errs[i])) != i]
    if wrong:
        raise CheckFailed(f"output channel {wrong[0]} resembles another input channel more than its own; "
                          f"keep channels in RGB order (channels last)")


@check("denoiser", "noise_types")
def check_noise_types(subject: Subject) -> None:
    """Every standard noise type works: blind methods ignore ``noise``; non-blind ones read it (or estimate the
    level when the spec has none they can use). ``noise=None`` either works or raises a one-line
    DenoiseBenchError saying what to pass."""
    cls = subject.cls
    clean = gray_image()
    for spec in STANDARD_NOISE:
        noisy = add_gaussian(clean, 15.0, seed=7)
        den = _make(subject, noise=spec)
        try:
            out = den.denoise(noisy, noise=spec if cls.needs_noise_level else None, rng=np.random.default_rng(0))
        except Exception as exc:
            raise CheckFailed(f"noise {spec.label}: {type(exc).__name__}: {exc}") from exc
        _check_output(np.asarray(out), noisy, f"noise {spec.label}", dtype=False)
    if cls.needs_noise_level:
        try:
            _make(subject).denoise(add_gaussian(clean), noise=None, rng=np.random.default_rng(0))
        except DenoiseBenchError as exc:
            if "\n" in str(exc):
                raise CheckFailed("the error for noise=None spans several lines; keep it to one") from exc
        except Exception as exc:
            raise CheckFailed(f"noise=None raised {type(exc).__name__}: {exc}; raise a one-line "
                              f"DenoiseBenchError (e.g. ParameterError) saying a noise spec is needed") from exc


@check("denoiser", "batch")
def check_batch(subject: Subject) -> None:
    """``denoise_batch`` returns one output per input, equal to ``denoise`` (for deterministic methods)."""
    den = _make(subject)
    batch = [add_gaussian(gray_image(), seed=s) for s in (0, 1)]
    outs = den.denoise_batch([b.copy() for b in batch], noise=_noise_arg(den), rng=np.random.default_rng(0))
    if len(outs) != len(batch):
        raise CheckFailed(f"denoise_batch returned {len(outs)} outputs for {len(batch)} inputs")
    for i, (noisy, out) in enumerate(zip(batch, outs)):
        _check_output(np.asarray(out), noisy, f"denoise_batch item {i}", dtype=False)
        if den.deterministic and not np.allclose(out, _run(den, noisy), atol=1e-5):
            raise CheckFailed(f"denoise_batch item {i} differs from denoise() on the same image")
