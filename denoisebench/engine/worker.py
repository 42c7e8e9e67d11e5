"""Running one task in a worker process: load the image, draw the noise once, run every cell, score it.

Per-cell isolation: a denoiser that raises, returns the wrong shape or non-finite values gives an ``error`` row
with the message; a missing requirement gives ``unavailable``; one that runs past the task's ``timeout`` is
stopped (SIGALRM, in the main thread of this process) and gives a ``timeout`` row; the other cells of the task go
on. A call stuck inside one C function is stopped only when that function returns to Python.
Plugins, datasets, denoiser instances (models) and metrics are created once per worker process and reused.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from denoisebench.config import NOISY
from denoisebench.errors import DenoiseBenchError, UnavailableError
from denoisebench.interfaces import params_key
from denoisebench.results import Cell, CellResult, Task
from denoisebench.seeding import cell_rng, cell_seed

_STATES: dict[tuple, WorkerState] = {}


class WorkerState:
    def __init__(self, disable: tuple[str, ...] = (), plugins=None):
        from denoisebench.pluginmanager import make_plugins

        self.plugins = plugins if plugins is not None else make_plugins(disable=set(disable))
        self._datasets: dict[str, Any] = {}
        self._denoisers: dict[tuple[str, str], Any] = {}
        self._metrics: dict[str, Any] = {}

    def dataset(self, spec: str):
        if spec not in self._datasets:
            from denoisebench.datasets import dataset_from_spec

            self._datasets[spec] = dataset_from_spec(self.plugins, spec)
        return self._datasets[spec]

    def denoiser(self, cell: Cell):
        key = (cell.denoiser, params_key(cell.param_dict))
        if key not in self._denoisers:
            cls = self.plugins.denoisers.get(cell.denoiser)
            missing = [r for r in cls.requires if importlib.util.find_spec(r) is None]
            if missing:
                raise UnavailableError(f"{cell.denoiser} needs {', '.join(missing)}; install it to run this denoiser")
            self._denoisers[key] = cls(**cell.param_dict)
        return self._denoisers[key]

    def forget(self, cell: Cell) -> None:
        den = self._denoisers.pop((cell.denoiser, params_key(cell.param_dict)), None)
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
    return f"{type(exc).__name__}: {exc}{loc}"


class CellTimeout(Exception):
    """Raised inside a denoiser call that ran past the task's timeout."""


@contextmanager
def _deadline(seconds: float):
    """Raise :class:`CellTimeout` in this thread after ``seconds`` (no limit when 0 or off the main thread)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise CellTimeout(f"the denoiser ran longer than --cell-timeout {seconds:g} s and was stopped; pass a larger "
                          "--cell-timeout (or 0 for no limit)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _denoise(den, noisy: np.ndarray, cell: Cell, rng: np.random.Generator) -> np.ndarray:
    noise = cell.noise if den.needs_noise_level else None
    if noisy.ndim == 3 and not den.handles_color:
        planes = [np.asarray(den.denoise(np.ascontiguousarray(noisy[..., c]), noise=noise, rng=rng))
                  for c in range(noisy.shape[2])]
        out = np.stack(planes, axis=-1)
    else:
        out = np.asarray(den.denoise(noisy.copy(), noise=noise, rng=rng))
    if out.shape != noisy.shape:
        raise ValueError(f"{cell.denoiser} returned shape {out.shape} for input {noisy.shape}; must keep the shape")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{cell.denoiser} returned NaN or inf values")
    return np.clip(out.astype(np.float32, copy=False), 0.0, 1.0)


def _scored(image: np.ndarray, quantize: str) -> np.ndarray:
    """The image the metrics see: as is, or (``uint8``) clipped and rounded to 8-bit levels, as KAIR's
    ``uint2single(single2uint(x))`` does."""
    if quantize == "uint8":
        return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)
    return image


def _inputs(state: WorkerState, task: Task, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The clean image and its noisy version, drawn once per task from the task's seed (common random numbers)."""
    clean = state.dataset(task.dataset_spec).load(task.image_id)
    model = state.plugins.noise_models.get(task.noise.model)(clip=task.clip, **task.noise.kwargs)
    return clean, model.apply(clean, cell_rng(seed))


def _denoiser_rng(seed: int, cell: Cell) -> np.random.Generator:
    return cell_rng(cell_seed(seed, cell.denoiser, params_key(cell.param_dict), "denoiser", 0))


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
    replay = Replay(clean, noisy)
    psnr = state.metric("psnr") if "psnr" in state.plugins.metrics else None
    for cell in task.cells:
        try:
            out = noisy if cell.denoiser == NOISY else _denoise(state.denoiser(cell), noisy, cell,
                                                                _denoiser_rng(seed, cell))
        except Exception as exc:  # contained: the caller shows what went wrong
            replay.errors[cell.denoiser] = _describe(exc)
            continue
        replay.outputs[cell.denoiser] = out
        if psnr is not None and not isinstance(psnr, Exception):
            replay.psnr[cell.denoiser] = float(psnr.compute(clean, out))
    return replay


def run_task(task: Task, disable: tuple[str, ...] = (), plugins=None) -> list[CellResult]:
    """Run every cell of a task; a cell's failure becomes its result row, never an exception.

    ``plugins`` (in-process runs only) reuses the caller's loaded plugins instead of loading entry points.
    """
    state = get_state(tuple(disable), plugins)
    dataset = task.cells[0].dataset
    seed = cell_seed(task.base_seed, dataset, task.image_id, task.noise.key, task.repetition)
    try:
        clean, noisy = _inputs(state, task, seed)
    except Exception as exc:
        msg = f"could not prepare {dataset}/{task.image_id} with {task.noise.label}: {_describe(exc)}"
        return [CellResult.for_cell(c, seed, "error", error=msg, finished_at=_now()) for c in task.cells]

    results: list[CellResult] = []
    outputs: list[np.ndarray] = []
    for cell in task.cells:
        provider = "" if cell.denoiser == NOISY else str(state.plugins.denoisers.provider(cell.denoiser))
        if cell.denoiser == NOISY:
            results.append(CellResult.for_cell(cell, seed, "ok", shape="x".join(map(str, clean.shape))))
            outputs.append(_scored(noisy, task.quantize))
            continue
        try:
            den = state.denoiser(cell)
            rng = _denoiser_rng(seed, cell)
            t0 = time.perf_counter()
            with _deadline(task.timeout):
                out = _denoise(den, noisy, cell, rng)
            seconds = time.perf_counter() - t0
        except CellTimeout as exc:
            state.forget(cell)  # interrupted mid-call: do not reuse that instance
            results.append(CellResult.for_cell(cell, seed, "timeout", error=str(exc), provider=provider,
                                               seconds=time.perf_counter() - t0, finished_at=_now()))
            continue
        except UnavailableError as exc:
            results.append(CellResult.for_cell(cell, seed, "unavailable", error=str(exc), provider=provider,
                                               finished_at=_now()))
            continue
        except Exception as exc:
            results.append(CellResult.for_cell(cell, seed, "error", error=_describe(exc), provider=provider,
                                               finished_at=_now()))
            continue
        results.append(CellResult.for_cell(cell, seed, "ok", seconds=seconds, provider=provider,
                                           shape="x".join(map(str, clean.shape))))
        outputs.append(_scored(out, task.quantize))

    ok = [r for r in results if r.status == "ok"]
    options = dict(task.metric_options)
    for name in task.metrics:
        metric = state.metric(name, options.get(name, ()))
        if isinstance(metric, Exception):
            for r in ok:
                r.metrics[name] = None
                r.metric_errors[name] = f"unavailable: {metric}"
            continue
        try:
            values = metric.compute_batch([clean] * len(ok), outputs)
        except Exception:
            values = []
            for r, out in zip(ok, outputs):
                try:
                    values.append(metric.compute(clean, out))
                except Exception as exc:
                    values.append(None)
                    r.metric_errors[name] = _describe(exc)
        for r, v in zip(ok, values):
            r.metrics[name] = None if v is None else float(v)
    stamp = _now()
    for r in results:
        r.finished_at = stamp
    return results


def crashed(task: Task, why: str) -> list[CellResult]:
    """Every cell of ``task`` as an error row saying ``why`` (its worker died, the executor failed)."""
    seed = cell_seed(task.base_seed, task.cells[0].dataset, task.image_id, task.noise.key, task.repetition)
    return [CellResult.for_cell(c, seed, "error", error=why) for c in task.cells]
