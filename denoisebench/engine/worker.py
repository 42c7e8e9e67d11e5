"""Running one task in a worker process: load the image, draw the noise once, run every cell, score it.

Per-cell isolation: a denoiser that raises (``KeyboardInterrupt`` and ``SystemExit`` included), returns the wrong
shape, an integer/boolean array, values outside [0, 1] by more than :data:`RANGE_TOLERANCE` or non-finite values
gives an ``error`` row saying what it returned; a missing requirement gives ``unavailable``; the other cells of
the task go on. A metric value that is not a real number (NaN, a string, ``inf`` other than the metric's
``identity``) or a ``compute_batch`` of the wrong length is an error for that metric with the reason.

Every array handed to plugin code is read-only (clean and noisy images, outputs; the metrics' reference and
estimate), except a denoiser's input, which is its private copy; a write into a read-only array raises inside
the plugin and becomes that plugin's error. Crashes, exits and timeouts are contained one level up: the worker
process reports each plugin call before making it (``report``), and :mod:`denoisebench.engine.pool` kills and
replaces a worker that dies or runs past the cell timeout, charging only the call it was making.
Plugins, datasets, denoiser instances (models) and metrics are created once per worker process and reused.

Model loading is kept out of the stored cell times: when a worker first needs a denoiser (with given parameters)
it constructs it and calls it, untimed, on a small crop of the task's noisy image (:data:`WARM_UP_SIDE`; the
whole image if the denoiser refuses the crop, and also the whole image when that is cheap: :func:`warm_up`), so a
model that loads lazily on its first call loads then. The
seconds of both are recorded in :attr:`WorkerState.loads` (the run's provenance keeps them, per worker); the warm-up
gets its own random generator, so the timed call sees exactly the generator it would have seen without it.
"""

from __future__ import annotations

import importlib.util
import math
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from denoisebench.config import NOISY
from denoisebench.errors import DenoiseBenchError, PluginError, UnavailableError
from denoisebench.results import Cell, CellResult, Task
from denoisebench.seeding import cell_rng, cell_seed

_STATES: dict[tuple, WorkerState] = {}


#: dataset images a worker keeps decoded (the tasks of one image come one after another)
IMAGE_CACHE = 4
#: side of the crop of the noisy image a new denoiser instance is warmed up on (untimed) before its first cell
WARM_UP_SIDE = 64
#: a warmed-up denoiser is also called once on the whole image when that should take at most this many seconds
#: (its second call on the crop, scaled by the pixels): libraries that prepare each new input shape on its first
#: call (oneDNN, cuDNN, FFT plans) then do that outside the first cell's time too
FULL_WARM_UP_S = 0.5


class WorkerState:
    def __init__(self, disable: tuple[str, ...] = (), plugins=None):
        from denoisebench.pluginmanager import make_plugins

        self.plugins = plugins if plugins is not None else make_plugins(disable=set(disable))
        self._datasets: dict[str, Any] = {}
        self._denoisers: dict[tuple[str, str], Any] = {}
        self._metrics: dict[str, Any] = {}
        self._images: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        #: one record per denoiser instance created (and warmed up) since the caller last took them
        self.loads: list[dict[str, Any]] = []
        self._providers: dict[tuple[str, str], str] = {}

    def provider(self, kind: str, name: str) -> str:
        """The plugin that registered ``name`` (kind: ``denoisers``, ``metrics`` or ``noise_models``)."""
        key = (kind, name)
        if key not in self._providers:
            self._providers[key] = str(getattr(self.plugins, kind).provider(name))
        return self._providers[key]

    def clean_image(self, spec: str, image_id: str) -> np.ndarray:
        """A dataset image, loaded and decoded once per worker for its consecutive tasks (an image has one task per
        noise setting and repetition): the last :data:`IMAGE_CACHE` images are kept, read-only."""
        key = (spec, image_id)
        if key in self._images:
            self._images.move_to_end(key)
            return self._images[key]
        image = np.asarray(self.dataset(spec).load(image_id))
        image.flags.writeable = False
        self._images[key] = image
        if len(self._images) > IMAGE_CACHE:
            self._images.popitem(last=False)
        return image

    def dataset(self, spec: str):
        if spec not in self._datasets:
            from denoisebench.datasets import dataset_from_spec

            self._datasets[spec] = dataset_from_spec(self.plugins, spec)
        return self._datasets[spec]

    def denoiser(self, cell: Cell, noisy: np.ndarray | None = None, estimate=None):
        """The cell's denoiser instance, created once per worker; given the task's ``noisy`` image, a new one
        is warmed up on it (untimed) and its load recorded in :attr:`loads`."""
        key = (cell.denoiser, cell.params_text)
        if key not in self._denoisers:
            cls = self.plugins.denoisers.get(cell.denoiser)
            missing = [r for r in cls.requires if importlib.util.find_spec(r) is None]
            if missing:
                raise UnavailableError(f"{cell.denoiser} needs {', '.join(missing)}; install it to run this denoiser")
            t0 = time.perf_counter()
            den = cls(**cell.param_dict)
            load = time.perf_counter() - t0
            self._denoisers[key] = den
            record = {"denoiser": cell.denoiser, "params": cell.params_text, "load_s": round(load, 6)}
            if noisy is not None:
                record.update(warm_up(den, noisy, cell, estimate))
            self.loads.append(record)
        return self._denoisers[key]

    def forget(self, cell: Cell) -> None:
        den = self._denoisers.pop((cell.denoiser, cell.params_text), None)
        if den is not None:
            try:
                den.close()
            except Exception:
                pass

    def metric(self, name: str, options: tuple = ()):
        """A ready metric instance (with ``options``), or the UnavailableError explaining why not (remembered)."""
        key = (name, options)
        if key not in self._metrics:
            cls = self.plugins.metrics.get(name)
            try:
                missing = [r for r in cls.requires if importlib.util.find_spec(r) is None]
                if missing:
                    raise UnavailableError(f"metric {name} needs {', '.join(missing)}; install it to compute {name}")
                metric = cls(**dict(options))
                metric.setup()
                self._metrics[key] = metric
            except Exception as exc:
                self._metrics[key] = exc if isinstance(exc, UnavailableError) else UnavailableError(
                    f"metric {name} failed to set up: {type(exc).__name__}: {exc}")
        return self._metrics[key]

    def close(self) -> None:
        for den in self._denoisers.values():
            try:
                den.close()
            except Exception:
                pass


def get_state(disable: tuple[str, ...] = (), plugins=None) -> WorkerState:
    """This process's state: built once from the entry points, or around an in-process ``plugins`` object."""
    key = (disable, id(plugins)) if plugins is not None else (disable, None)
    if key not in _STATES:
        _STATES[key] = WorkerState(disable, plugins)
    return _STATES[key]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DenoiseBenchError):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    loc = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    if isinstance(exc, SystemExit):
        return f"plugin code called sys.exit({exc.code!r}) (SystemExit){loc}; a plugin must raise an exception instead"
    if isinstance(exc, KeyboardInterrupt):
        return f"plugin code raised KeyboardInterrupt{loc}; a plugin must raise an exception instead"
    return f"{type(exc).__name__}: {exc}{loc}"


#: how far (beyond [0, 1], or beyond the noisy input's range when noise is not clipped) a float output may go
#: before it is an error; outputs within it are clipped to [0, 1]
RANGE_TOLERANCE = 0.1

#: what a plugin call may raise and still be that plugin's error (not the end of the run)
PLUGIN_ERRORS = (Exception, KeyboardInterrupt, SystemExit)


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array``: a plugin that writes into it raises ``ValueError`` (its own error)."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


def _checked_output(out: Any, noisy: np.ndarray, name: str) -> np.ndarray:
    """The denoiser's output as float32 in [0, 1], or a ValueError saying what it returned and what to return."""
    out = np.asarray(out)
    if out.shape != noisy.shape:
        raise PluginError(f"{name} returned shape {out.shape} for input {noisy.shape}; must keep the shape")
    if out.dtype.kind in "biu":
        lo, hi = (int(out.min()), int(out.max())) if out.size else (0, 0)
        raise PluginError(f"{name} returned {out.dtype} values ({lo}..{hi}); return floating-point values in [0, 1] "
                         f"(for 8-bit levels: out.astype(np.float32) / 255)")
    if out.dtype.kind != "f":
        raise PluginError(f"{name} returned an array of dtype {out.dtype}; return float32 values in [0, 1]")
    if out.size:
        lo, hi = float(out.min()), float(out.max())  # NaN propagates into both, inf reaches one of them
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise PluginError(f"{name} returned NaN or inf values")
        # the noisy input's range matters only when the output leaves [-tolerance, 1 + tolerance]
        out_of_range = lo < -RANGE_TOLERANCE or hi > 1.0 + RANGE_TOLERANCE
        low = min(0.0, float(noisy.min())) - RANGE_TOLERANCE if out_of_range else -RANGE_TOLERANCE
        high = max(1.0, float(noisy.max())) + RANGE_TOLERANCE if out_of_range else 1.0 + RANGE_TOLERANCE
        if lo < low or hi > high:
            raise PluginError(f"{name} returned values in [{lo:.4g}, {hi:.4g}], outside [0, 1] by more than "
                             f"{RANGE_TOLERANCE:g}; return values in [0, 1] (outputs within {RANGE_TOLERANCE:g} of "
                             f"it are clipped)")
    return readonly(np.clip(out.astype(np.float32, copy=False), 0.0, 1.0))


def metric_value(value: Any, metric) -> float:
    """``value`` as a float, or a ValueError: a metric returns a finite real number (or its ``identity``)."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not real and isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        real, value = True, value.item()
    if not real:
        text = repr(value)
        raise PluginError(f"returned {type(value).__name__} {text[:40] + ('...' if len(text) > 40 else '')}; "
                         "compute must return a finite real number (a float)")
    value = float(value)
    if math.isfinite(value) or value == getattr(metric, "identity", None):
        return value
    raise PluginError(f"returned {value}; compute must return a finite real number"
                     + (f" (or {metric.identity} for identical images)" if metric.identity is not None else ""))


def _denoise(den, noisy: np.ndarray, cell: Cell, rng: np.random.Generator, estimate=None) -> np.ndarray:
    noise = (estimate or cell.noise) if den.needs_noise_level else None
    if noisy.ndim == 3 and not den.handles_color:
        planes = [np.asarray(den.denoise(np.array(noisy[..., c]), noise=noise, rng=rng))
                  for c in range(noisy.shape[2])]
        out = np.stack(planes, axis=-1)
    else:
        out = den.denoise(noisy.copy(), noise=noise, rng=rng)  # its private copy
    return _checked_output(out, noisy, cell.denoiser)


def _scored(image: np.ndarray, quantize: str) -> np.ndarray:
    """The image the metrics see: as is, or (``uint8``) clipped and rounded to 8-bit levels, as KAIR's
    ``uint2single(single2uint(x))`` does."""
    if quantize == "uint8":
        return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)
    return image


def _inputs(state: WorkerState, task: Task, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The clean image and its noisy version, drawn once per task from the task's seed (common random numbers)."""
    model = state.plugins.noise_models.get(task.noise.model)(clip=task.clip, **task.noise.kwargs)
    if getattr(model, "captured", False):  # real noise: the paired dataset's stored capture, no draw
        clean, noisy = state.dataset(task.dataset_spec).pair(task.image_id)
        return readonly(clean), readonly(noisy)
    clean = readonly(state.clean_image(task.dataset_spec, task.image_id))
    return clean, readonly(model.apply(clean, cell_rng(seed)))


def noise_estimate(state: WorkerState, task: Task, noisy: np.ndarray):
    """For captured (real) noise: the NoiseSpec a non-blind denoiser receives, estimated from the capture by
    the noise model (its ``sigma`` is stored in the task's rows as ``noise_sigma``); None for synthetic noise."""
    model = state.plugins.noise_models.get(task.noise.model)
    return model(clip=task.clip, **task.noise.kwargs).estimate(noisy) if getattr(model, "captured", False) else None


def _denoiser_rng(seed: int, cell: Cell) -> np.random.Generator:
    return cell_rng(cell_seed(seed, cell.denoiser, cell.params_text, "denoiser", 0))


def warm_up(den, noisy: np.ndarray, cell: Cell, estimate=None) -> dict[str, Any]:
    """Call a new denoiser instance, untimed, on a :data:`WARM_UP_SIDE` crop of ``noisy`` (the whole image if it
    refuses the crop), with a generator of its own: a model that loads on its first call loads here. When the
    crop worked, it is called on it again, and, if that second call scaled to the whole image's pixels is at most
    :data:`FULL_WARM_UP_S`, once on the whole image. Returns ``warm_up_s`` and ``warm_up`` (``crop HxW``, ``crop
    HxW, full HxW``, ``full HxW`` or why it failed: the timed call then shows the same error).
    ``KeyboardInterrupt``/``SystemExit`` propagate: they are the cell's error."""
    crop = noisy[:WARM_UP_SIDE, :WARM_UP_SIDE]

    def call(image: np.ndarray) -> float:
        t = time.perf_counter()
        _denoise(den, image, cell, np.random.Generator(np.random.PCG64(0)), estimate)
        return time.perf_counter() - t

    def shape(label: str, image: np.ndarray) -> str:
        return f"{label} {'x'.join(map(str, image.shape))}"

    t0 = time.perf_counter()
    try:
        call(crop)
        outcome = shape("crop", crop)
    except Exception as exc:
        outcome = f"failed: {_describe(exc)}"
        if crop.shape != noisy.shape:  # it may refuse a small input: the whole image then
            try:
                call(noisy)
                outcome = shape("full", noisy)
            except Exception as exc:
                outcome = f"failed: {_describe(exc)}"
    else:
        if crop.shape != noisy.shape:
            try:
                if call(crop) * (noisy.size / crop.size) <= FULL_WARM_UP_S:
                    call(noisy)
                    outcome += ", " + shape("full", noisy)
            except Exception:  # the timed call shows it, if it happens again
                pass
    return {"warm_up_s": round(time.perf_counter() - t0, 6), "warm_up": outcome}


@dataclass
class Replay:
    """A task's images re-created as :func:`run_task` made them: clean, noisy, each cell's output, PSNR, errors."""

    clean: np.ndarray
    noisy: np.ndarray
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # denoiser (noisy first) -> image
    psnr: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def replay_task(task: Task, disable: tuple[str, ...] = (), plugins=None) -> Replay:
    """Re-run a task's cells and keep their images (outputs are never stored), scored with the registered
    ``psnr`` metric: the same seeding, noise draw and denoiser call as :func:`run_task`, so for deterministic
    denoisers the images are exactly those the run scored. A failing cell is recorded in ``errors``."""
    state = get_state(tuple(disable), plugins)
    seed = cell_seed(task.base_seed, task.cells[0].dataset, task.image_id, task.noise.key, task.repetition)
    clean, noisy = _inputs(state, task, seed)
    estimate = noise_estimate(state, task, noisy)
    replay = Replay(clean, noisy)
    psnr = state.metric("psnr") if "psnr" in state.plugins.metrics else None
    for cell in task.cells:
        try:
            out = noisy if cell.denoiser == NOISY else _denoise(state.denoiser(cell), noisy, cell,
                                                                _denoiser_rng(seed, cell), estimate)
        except PLUGIN_ERRORS as exc:  # contained: the caller shows what went wrong
            replay.errors[cell.denoiser] = _describe(exc)
            continue
        replay.outputs[cell.denoiser] = out
        if psnr is not None and not isinstance(psnr, Exception):
            replay.psnr[cell.denoiser] = float(psnr.compute(clean, out))
    return replay


def task_seed(task: Task) -> int:
    """The seed of a task's noise draw (common random numbers: every cell of the task sees it)."""
    return cell_seed(task.base_seed, task.cells[0].dataset, task.image_id, task.noise.key, task.repetition)


#: ``report(kind, name, index, provider)`` is called before each plugin call of a task: kind "prepare" (dataset
#: load and noise), "denoise" (constructing and calling the denoiser of ``task.cells[index]``), "metric"
Report = Callable[[str, str, int, str], None]


def _no_report(kind: str, name: str, index: int, provider: str) -> None:
    pass


def run_task(task: Task, disable: tuple[str, ...] = (), plugins=None, *, report: Report | None = None,
             skip_metrics: dict[str, str] | None = None) -> list[CellResult]:
    """Run every cell of a task; a cell's failure becomes its result row, never an exception.

    ``plugins`` (in-process runs only) reuses the caller's loaded plugins instead of loading entry points;
    ``report`` is told of each plugin call before it is made (see :data:`Report`); ``skip_metrics`` maps a
    metric not to compute to the error its values get instead (it crashed or hung a worker on this task).
    """
    report = report or _no_report
    skip_metrics = skip_metrics or {}
    state = get_state(tuple(disable), plugins)
    dataset = task.cells[0].dataset
    seed = task_seed(task)
    try:
        report("prepare", task.noise.model, -1, state.provider("noise_models", task.noise.model))
        clean, noisy = _inputs(state, task, seed)
        estimate = noise_estimate(state, task, noisy)
    except PLUGIN_ERRORS as exc:
        msg = f"could not prepare {dataset}/{task.image_id} with {task.noise.label}: {_describe(exc)}"
        return [CellResult.for_cell(c, seed, "error", error=msg, finished_at=_now()) for c in task.cells]

    results: list[CellResult] = []
    outputs: list[np.ndarray] = []
    shape = "x".join(map(str, clean.shape))
    for index, cell in enumerate(task.cells):
        if cell.denoiser == NOISY:
            results.append(CellResult.for_cell(cell, seed, "ok", shape=shape))
            outputs.append(readonly(_scored(noisy, task.quantize)))
            continue
        provider = state.provider("denoisers", cell.denoiser)
        try:
            report("denoise", cell.denoiser, index, provider)
            den = state.denoiser(cell, noisy, estimate)  # a new instance loads and warms up here, untimed
            rng = _denoiser_rng(seed, cell)
            t0 = time.perf_counter()
            out = _denoise(den, noisy, cell, rng, estimate)
            seconds = time.perf_counter() - t0
        except UnavailableError as exc:
            results.append(CellResult.for_cell(cell, seed, "unavailable", error=str(exc), provider=provider,
                                               finished_at=_now()))
            continue
        except PLUGIN_ERRORS as exc:
            if not isinstance(exc, Exception):
                state.forget(cell)  # stopped mid-call by an exit or interrupt: do not reuse that instance
            results.append(CellResult.for_cell(cell, seed, "error", error=_describe(exc), provider=provider,
                                               finished_at=_now()))
            continue
        results.append(CellResult.for_cell(cell, seed, "ok", seconds=seconds, provider=provider, shape=shape))
        outputs.append(readonly(_scored(out, task.quantize)))

    ok = [r for r in results if r.status == "ok"]
    if estimate is not None and "sigma" in estimate.kwargs:  # what non-blind denoisers were told, in every row
        for r in ok:
            r.metrics["noise_sigma"] = float(estimate.kwargs["sigma"])
    options = dict(task.metric_options)
    references = [clean] * len(ok)
    for name in task.metrics:
        if name in skip_metrics:
            for r in ok:
                r.metrics[name] = None
                r.metric_errors[name] = skip_metrics[name]
            continue
        report("metric", name, -1, state.provider("metrics", name))
        metric = state.metric(name, options.get(name, ()))
        if isinstance(metric, Exception):
            for r in ok:
                r.metrics[name] = None
                r.metric_errors[name] = f"unavailable: {metric}"
            continue
        for r, value, error in zip(ok, *_metric_values(metric, references, outputs)):
            r.metrics[name] = value
            if error:
                r.metric_errors[name] = error
    stamp = _now()
    for r in results:
        r.finished_at = stamp
    return results


def _metric_values(metric, references: list[np.ndarray], outputs: list[np.ndarray]):
    """(values, errors) of one metric over the task's pairs: compute_batch, or compute pair by pair if it raised;
    a value that is not a real number, or a batch of the wrong length, is that pair's error."""
    n = len(outputs)
    try:
        batch = list(metric.compute_batch(references, outputs))
    except PLUGIN_ERRORS:
        batch = None
    if batch is not None and len(batch) != n:
        why = (f"compute_batch returned {len(batch)} values for {n} image pairs; return one value per pair, "
               "in order")
        return [None] * n, [why] * n
    values: list[float | None] = []
    errors: list[str] = []
    for i in range(n):
        try:
            raw = batch[i] if batch is not None else metric.compute(references[i], outputs[i])
            values.append(metric_value(raw, metric))
            errors.append("")
        except PLUGIN_ERRORS as exc:
            values.append(None)
            errors.append(_describe(exc))
    return values, errors


def crashed(task: Task, why: str) -> list[CellResult]:
    """Every cell of ``task`` as an error row saying ``why`` (its worker died, the executor failed)."""
    seed = task_seed(task)
    return [CellResult.for_cell(c, seed, "error", error=why) for c in task.cells]
