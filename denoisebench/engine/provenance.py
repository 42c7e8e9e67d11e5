"""What a run records about itself: provenance (versions, platform, date), the conventions its numbers follow,
the metric metadata its tables need, the run directory's name, and opening its store."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from denoisebench import metricmeta
from denoisebench.config import Config
from denoisebench.datasets import dataset_label
from denoisebench.engine.child import worker_threads
from denoisebench.engine.grid import Plan
from denoisebench.errors import StoreError
from denoisebench.protocols import describe
from denoisebench.store import Store
from denoisebench.version import __version__


def provenance(plugins, config: Config) -> dict[str, Any]:
    import importlib.metadata as md

    def version(dist: str) -> str:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return "not installed"

    return {
        "denoisebench": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": {d: version(d) for d in ("numpy", "scipy", "scikit-image", "opencv-python-headless",
                                             "pandas", "statsmodels", "pluggy", "torch")},
        "plugins": {s.name: {"distribution": s.distribution, "version": s.version, "status": s.status,
                             "reason": s.reason} for s in plugins.status.values()},
        "seed": config.seed,
        # every worker process (local, -j N, dask) pins this intra-op thread count: values do not depend on -j
        "worker_threads": worker_threads(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def record_model_loads(store: Store, loads: list[dict[str, Any]]) -> None:
    """Add the models the workers loaded in this invocation to its provenance record (``model_loads``: one
    entry per denoiser instance per worker process: ``denoiser``, ``params``, ``worker`` (PID), ``load_s``
    (constructing it), ``warm_up_s`` (its untimed first call) and ``warm_up`` (what it was called on)). Those
    seconds are in no cell's stored time."""
    if not loads:
        return
    runs = store.get_meta("provenance", [])
    if not runs:
        runs = [{}]
    runs[-1].setdefault("model_loads", []).extend(loads)
    store.set_meta("provenance", runs)


def _convention(plugins, metric: str, plan: Plan) -> str:
    """The metric's convention as configured: an instance with options may state a different rule."""
    options = dict(plan.tasks[0].metric_options).get(metric) if plan.tasks else None
    if not options:
        return plugins.metrics.get(metric).convention
    text = plugins.metrics.get(metric)(**dict(options)).convention
    return text + "; options: " + ", ".join(f"{k}={v}" for k, v in options)


def conventions(plugins, plan: Plan) -> dict[str, Any]:
    """The conventions the run's numbers follow, stored with the run and stated in its report."""
    return {
        "noise": {s.model: plugins.noise_models.get(s.model).convention for s in plan.noise},
        "metrics": {m: _convention(plugins, m, plan) for m in plan.metrics},
        "clip": "noisy images clipped to [0, 1]" if plan.config.clip else "noisy images not clipped (KAIR protocol)",
        "outputs": "denoiser outputs clipped to [0, 1] before scoring" + (
            "; every scored image (outputs and the noisy input) rounded to uint8 levels, round(255*x)/255"
            if plan.config.quantize == "uint8" else ""),
        "protocol": describe(plan.config.protocol, plan.config.to_dict()),
        "seeding": "noise seeded per (seed, dataset, image, noise spec, repetition): every denoiser sees the same "
                   "noisy image",
        "aggregation": "dataset value = mean of per-image values",
        "unit": "image",
    }


def default_run_dir(config: Config, root: str | Path = "reports") -> Path:
    """Same options -> same directory, so re-running the same command resumes it."""
    name = "-".join(dataset_label(d).replace(":", "_").replace("/", "_") for d in config.datasets)[:40]
    return Path(root) / f"run-{name}-{config.digest()}"


def open_store(run_dir: Path, config: Config, plugins, plan: Plan) -> Store:
    store = Store(run_dir, create=True)
    stored = store.get_meta("config")
    if stored is not None:
        old = Config.from_dict(stored)
        if old.identity() != config.identity():
            new_id, old_id = config.identity(), old.identity()
            diff = sorted(k for k in set(new_id) | set(old_id) if new_id.get(k) != old_id.get(k))
            store.close()
            raise StoreError(
                f"{run_dir}: holds a run with different options ({', '.join(diff)}); pass a new --output, or use "
                f"`denoisebench run --from {run_dir}` to resume it"
            )
    else:
        store.set_meta("config", config.to_dict())
        store.set_meta("conventions", conventions(plugins, plan))
        store.set_meta("plan", {"denoisers": plan.denoisers, "noise": [s.key for s in plan.noise],
                                "noise_labels": {s.key: s.label for s in plan.noise},
                                "metrics": plan.metrics, "datasets": plan.datasets, "paired": plan.paired,
                                "settings": plan.settings, "captured": [
                                    s.key for s in plan.noise
                                    if getattr(plugins.noise_models.get(s.model), "captured", False)]})
        if plan.groups:
            store.set_meta("image_groups", plan.groups)
        if plan.files:  # the files behind each paired dataset, with their sha256 (no checksum may be known)
            store.set_meta("dataset_files", plan.files)
    if store.get_meta("metrics") is None:  # also when resuming a run made before metric metadata was stored
        conv = store.get_meta("conventions", {}).get("metrics", {})
        meta = metricmeta.describe(plugins.metrics, plan.metrics, conv)
        if any(getattr(plugins.noise_models.get(s.model), "captured", False) for s in plan.noise):
            meta[metricmeta.NOISE_SIGMA["name"]] = dict(metricmeta.NOISE_SIGMA)
        store.set_meta("metrics", meta)
    runs = store.get_meta("provenance", [])
    runs.append(provenance(plugins, config))
    store.set_meta("provenance", runs)
    return store
