"""Plugin manager: loads the ``denoisebench`` entry-point group and fills the registries, containing failures.

pluggy does not isolate a raising hook implementation, so every plugin's import and every registration hook
call is wrapped here: a failing plugin is recorded (name, distribution, reason) and the others load.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
from dataclasses import dataclass, field
from typing import Any

import pluggy

from denoisebench import hookspecs
from denoisebench.errors import DenoiseBenchError
from denoisebench.interfaces import Dataset, Denoiser, Metric, NoiseModel
from denoisebench.registry import Provider, Registry

ENTRY_POINT_GROUP = "denoisebench"
DISABLE_ENV = "DENOISEBENCH_DISABLE_PLUGINS"

REGISTRATION_HOOKS = {
    "denoisers": "denoisebench_register_denoisers",
    "noise_models": "denoisebench_register_noise_models",
    "metrics": "denoisebench_register_metrics",
    "datasets": "denoisebench_register_datasets",
}


@dataclass
class PluginStatus:
    name: str
    distribution: str = ""
    version: str = ""
    module: str = ""
    status: str = "ok"  # ok | error | disabled
    reason: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)


class Plugins:
    """The loaded plugin manager with its registries and per-plugin status."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        self.status: dict[str, PluginStatus] = {}
        self.denoisers: Registry[type[Denoiser]] = Registry("denoiser", Denoiser)
        self.noise_models: Registry[type[NoiseModel]] = Registry("noise model", NoiseModel)
        self.metrics: Registry[type[Metric]] = Registry("metric", Metric)
        self.datasets: Registry[type[Dataset]] = Registry("dataset", Dataset)

    def registry(self, kind: str) -> Registry:
        return getattr(self, kind)

    @property
    def errors(self) -> list[PluginStatus]:
        return [s for s in self.status.values() if s.status == "error"]

    def notify(self, hook: str, **kwargs: Any) -> list[str]:
        """Call an observer hook on every plugin, isolating failures; return one line per failure."""
        problems = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:  # a broken observer never stops a run
                problems.append(f"plugin {impl.plugin_name!r}: {hook} raised {type(exc).__name__}: {exc}")
        return problems


def disabled_from_env() -> set[str]:
    return {p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()}


def _entry_points() -> list[md.EntryPoint]:
    seen, out = set(), []
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        out.append(ep)
    return sorted(out, key=lambda e: (e.dist.name if e.dist else "", e.name))


def _check_hook_names(obj: Any) -> None:
    """A hook implementation whose name matches no hookspec would be ignored silently: reject it by name."""
    known = {n for n in dir(hookspecs) if n.startswith(hookspecs.PROJECT + "_")}
    for attr in dir(obj):
        if attr.startswith(hookspecs.PROJECT + "_") and attr not in known and callable(getattr(obj, attr, None)):
            close = difflib.get_close_matches(attr, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known hooks: {', '.join(sorted(known))}"
            raise DenoiseBenchError(f"unknown hook {attr}; {hint}")


def make_plugins(*, extra_plugins: list[tuple[str, object]] | None = None, load_entrypoints: bool = True,
                 disable: set[str] | frozenset[str] | None = None) -> Plugins:
    """Build a plugin manager, load entry points and extra ``(name, module_or_object)`` plugins, fill registries."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    disable = set(disable or ()) | disabled_from_env()

    candidates: list[tuple[PluginStatus, Any]] = []
    if load_entrypoints:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            candidates.append((PluginStatus(ep.name, dist, version, ep.value), ep))
    from_entry_points = {id(source) for _, source in candidates}
    for name, obj in extra_plugins or []:
        candidates.append((PluginStatus(name, module=getattr(obj, "__name__", repr(obj))), obj))

    for st, source in candidates:
        if st.name in plugins.status:
            st.status, st.reason = "error", f"plugin name {st.name!r} is already used by {plugins.status[st.name].module}"
            plugins.status[st.name + f"#{len(plugins.status)}"] = st
            continue
        plugins.status[st.name] = st
        if st.name in disable or (st.distribution and st.distribution in disable):
            st.status, st.reason = "disabled", "disabled by --disable-plugin / " + DISABLE_ENV
            continue
        try:
            # not isinstance(source, md.EntryPoint): once anything imports the importlib_metadata backport
            # (dask does), entry_points() returns importlib_metadata.EntryPoint objects
            obj = source.load() if id(source) in from_entry_points else source
            _check_hook_names(obj)
            pm.register(obj, name=st.name)
        except Exception as exc:
            st.status, st.reason = "error", f"failed to load: {type(exc).__name__}: {exc}"

    for kind, hook in REGISTRATION_HOOKS.items():
        registry = plugins.registry(kind)
        for impl in getattr(pm.hook, hook).get_hookimpls():  # registration order (pluggy *calls* LIFO)
            st = plugins.status[impl.plugin_name]
            if st.status != "ok":
                continue
            registry.current = Provider(st.name, st.distribution, st.version)
            before = set(registry.names())
            try:
                impl.function(registry=registry)
            except Exception as exc:
                for name in set(registry.names()) - before:  # roll back a half-done registration
                    registry._entries.pop(name)
                reason = str(exc) if isinstance(exc, DenoiseBenchError) else f"{type(exc).__name__}: {exc}"
                st.status, st.reason = "error", f"{hook} failed: {reason}"
                pm.unregister(name=st.name)
                for other in REGISTRATION_HOOKS:  # drop what this plugin registered in earlier kinds too
                    reg = plugins.registry(other)
                    for e in reg.entries():
                        if e.provider.plugin == st.name:
                            reg._entries.pop(e.name)
                st.provides.clear()
                continue
            added = [n for n in registry.names() if n not in before]
            if added:
                st.provides[kind] = added
        registry.current = Provider("unknown")
    return plugins
