"""Plugin manager: loads the ``denoisebench`` entry-point group and fills the registries, containing failures.

Load order: the core distribution's own plugins (``denoisebench``) first, as pytest and tox load their
built-ins, then every other distribution sorted by (normalised) distribution name and entry-point name, then
``extra_plugins`` in the order given. The first plugin to register a name keeps it: a later one that reuses it
has only that entry skipped, with one line naming both providers in its status ``problems``.

pluggy does not isolate a raising hook implementation, so every plugin's import and every registration hook
call is wrapped here: a failing plugin is recorded (name, distribution, reason), what it had registered is
removed, and the others load.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pluggy

from denoisebench import hookspecs
from denoisebench.errors import DenoiseBenchError, did_you_mean
from denoisebench.interfaces import Dataset, Denoiser, Metric, NoiseModel
from denoisebench.registry import Provider, Registry

ENTRY_POINT_GROUP = "denoisebench"
CORE_DISTRIBUTION = "denoisebench"
DISABLE_ENV = "DENOISEBENCH_DISABLE_PLUGINS"
#: seconds a plugin's import (or a registration hook) may take before it is stopped and reported
IMPORT_TIMEOUT_ENV = "DENOISEBENCH_IMPORT_TIMEOUT"

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
    #: one line per entry skipped while the plugin itself loaded (a name another plugin registered first)
    problems: list[str] = field(default_factory=list)

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.distribution, self.version)


class Plugins:
    """The loaded plugin manager with its registries and per-plugin status."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        self.status: dict[str, PluginStatus] = {}
        self.denoisers: Registry[type[Denoiser]] = Registry("denoiser", Denoiser)
        self.noise_models: Registry[type[NoiseModel]] = Registry("noise model", NoiseModel)
        self.metrics: Registry[type[Metric]] = Registry("metric", Metric)
        self.datasets: Registry[type[Dataset]] = Registry("dataset", Dataset)
        self.from_entry_points = False
        #: lines about the loading as a whole (a --disable-plugin name that matches no plugin)
        self.notes: list[str] = []

    def registry(self, kind: str) -> Registry:
        return getattr(self, kind)

    @property
    def errors(self) -> list[PluginStatus]:
        return [s for s in self.status.values() if s.status == "error"]

    @property
    def problems(self) -> list[str]:
        """Every entry skipped by a plugin that otherwise loaded (duplicate names), and every name given to
        ``--disable-plugin`` / ``DENOISEBENCH_DISABLE_PLUGINS`` that matched no plugin, one line each."""
        return [line for s in self.status.values() for line in s.problems] + self.notes

    def notify(self, hook: str, **kwargs: Any) -> list[str]:
        """Call an observer hook on every plugin, isolating failures; return one line per failure."""
        problems = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:  # a broken observer never stops a run
                problems.append(f"plugin {impl.plugin_name!r}: {hook} raised {type(exc).__name__}: {exc}")
        return problems


class PluginAborted(Exception):
    """A plugin's import or registration hook exited, raised KeyboardInterrupt, or hung past the time limit."""


class _Hung(BaseException):
    pass


@contextmanager
def guarded(what: str, seconds: float | None = None):
    """Contain what plugin code may do to this process while it is imported or registers: ``sys.exit``
    (SystemExit), a ``KeyboardInterrupt`` it raises itself (the user's Ctrl-C still stops the command) and a hang
    (stopped after ``seconds``, default :data:`IMPORT_TIMEOUT_ENV` or 60 s, where SIGALRM exists and this is the
    main thread) become :class:`PluginAborted` saying so. A plugin that kills the interpreter outright
    (``os._exit``, a segfault) is beyond any in-process guard."""
    if seconds is None:
        try:
            seconds = float(os.environ.get(IMPORT_TIMEOUT_ENV, "60"))
        except ValueError:
            seconds = 60.0
    where = "during import" if what == "import" else f"in {what}"
    user_interrupt = []
    alarm = bool(seconds) and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if alarm:
        def on_alarm(signum, frame):
            raise _Hung

        def on_int(signum, frame):
            user_interrupt.append(True)
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGALRM, on_alarm), signal.signal(signal.SIGINT, on_int)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) or exc.code is None else repr(exc.code)
        raise PluginAborted(f"exited with code {code or 0} {where} (sys.exit)") from None
    except KeyboardInterrupt:
        if user_interrupt:
            raise
        raise PluginAborted(f"raised KeyboardInterrupt {where}") from None
    except _Hung:
        raise PluginAborted(f"timed out after {seconds:g} s {where}") from None
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous[0])
            signal.signal(signal.SIGINT, previous[1])


def disabled_from_env() -> set[str]:
    return {p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()}


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def load_order(distribution: str, entry_point: str) -> tuple[bool, str, str]:
    """Sort key: the core distribution first, then the others by distribution name, then entry-point name."""
    dist = _normalise(distribution)
    return dist != CORE_DISTRIBUTION, dist, entry_point


def _entry_points() -> list[md.EntryPoint]:
    seen, out = set(), []
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        out.append(ep)
    return sorted(out, key=lambda e: load_order(e.dist.name if e.dist else "", e.name))


def _check_hook_names(obj: Any) -> None:
    """A hook implementation whose name matches no hookspec would be ignored silently: reject it by name."""
    known = {n for n in dir(hookspecs) if n.startswith(hookspecs.PROJECT + "_")}
    for attr in dir(obj):
        if attr.startswith(hookspecs.PROJECT + "_") and attr not in known and callable(getattr(obj, attr, None)):
            close = did_you_mean(attr, known)
            hint = f"did you mean {close}?" if close else f"known hooks: {', '.join(sorted(known))}"
            raise DenoiseBenchError(f"unknown hook {attr}; {hint}")


def _candidates(extra_plugins, load_entrypoints: bool) -> list[tuple[PluginStatus, Any, bool]]:
    """(status, source, is an entry point) in load order."""
    out = []
    if load_entrypoints:
        for ep in _entry_points():
            dist, version = (ep.dist.name, ep.dist.version) if ep.dist else ("", "")
            out.append((PluginStatus(ep.name, dist, version, ep.value), ep, True))
    for name, obj in extra_plugins or []:
        out.append((PluginStatus(name, module=getattr(obj, "__name__", repr(obj))), obj, False))
    return out


def _register(plugins: Plugins, candidates, disable: set[str]) -> None:
    """Import each candidate and register it with pluggy, recording its status (ok, error, disabled)."""
    disabled_dists = {_normalise(d) for d in disable}
    for st, source, is_entry_point in candidates:
        if st.name in plugins.status:
            st.status, st.reason = "error", f"plugin name {st.name!r} is already used by {plugins.status[st.name].module}"
            plugins.status[st.name + f"#{len(plugins.status)}"] = st
            continue
        plugins.status[st.name] = st
        if st.name in disable or (st.distribution and _normalise(st.distribution) in disabled_dists):
            st.status, st.reason = "disabled", "disabled by --disable-plugin / " + DISABLE_ENV
            continue
        try:
            with guarded("import"):
                # not isinstance(source, md.EntryPoint): once anything imports the importlib_metadata backport
                # (dask does), entry_points() returns importlib_metadata.EntryPoint objects
                obj = source.load() if is_entry_point else source
            _check_hook_names(obj)
            plugins.pm.register(obj, name=st.name)
        except PluginAborted as exc:
            st.status, st.reason = "error", str(exc)
        except Exception as exc:
            st.status, st.reason = "error", f"failed to load: {type(exc).__name__}: {exc}"


def _unmatched_disable(disable: set[str], statuses: list[PluginStatus]) -> list[str]:
    """One line per disable name that is neither a plugin name nor a distribution: a misspelling would otherwise
    leave the plugin loaded without a word."""
    names = {st.name for st in statuses}
    dists = {st.distribution for st in statuses if st.distribution}
    known, normalised = names | dists, {_normalise(d) for d in dists}
    lines = []
    for name in sorted(disable):
        if name in known or _normalise(name) in normalised:
            continue
        close = did_you_mean(name, known)
        hint = f"did you mean {close}?" if close else f"plugins: {', '.join(sorted(names)) or 'none'}"
        lines.append(f"--disable-plugin / {DISABLE_ENV}: no plugin or distribution named {name!r}; "
                     f"nothing was disabled for it ({hint})")
    return lines


def _fill_registries(plugins: Plugins) -> None:
    """Call the registration hooks kind by kind, plugin by plugin in load order (not pluggy's call order)."""
    order = {name: i for i, name in enumerate(plugins.status)}
    for kind, hook in REGISTRATION_HOOKS.items():
        registry = plugins.registry(kind)
        for impl in sorted(getattr(plugins.pm.hook, hook).get_hookimpls(), key=lambda i: order[i.plugin_name]):
            st = plugins.status[impl.plugin_name]
            if st.status != "ok":
                continue
            try:
                with registry.providing(st.provider) as skipped, guarded(hook):
                    impl.function(registry=registry)
            except PluginAborted as exc:
                _drop(plugins, st, str(exc))
                continue
            except Exception as exc:
                reason = str(exc) if isinstance(exc, DenoiseBenchError) else f"{type(exc).__name__}: {exc}"
                _drop(plugins, st, f"{hook} failed: {reason}")
                continue
            finally:
                st.problems += skipped
            added = [e.name for e in registry.entries() if e.provider.plugin == st.name]
            if added:
                st.provides[kind] = added


def _drop(plugins: Plugins, st: PluginStatus, reason: str) -> None:
    """Mark a plugin failed and remove everything it registered, in every kind."""
    st.status, st.reason = "error", reason
    plugins.pm.unregister(name=st.name)
    for kind in REGISTRATION_HOOKS:
        plugins.registry(kind).remove_provider(st.name)
    st.provides.clear()


def make_plugins(*, extra_plugins: list[tuple[str, object]] | None = None, load_entrypoints: bool = True,
                 disable: set[str] | frozenset[str] | None = None) -> Plugins:
    """Build a plugin manager, load entry points and extra ``(name, module_or_object)`` plugins, fill registries."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    candidates = _candidates(extra_plugins, load_entrypoints)
    disable = set(disable or ()) | disabled_from_env()
    _register(plugins, candidates, disable)
    plugins.notes += _unmatched_disable(disable, [st for st, _, _ in candidates])
    _fill_registries(plugins)
    # a worker process can build the same plugins again from the entry points (else it is forked from this one)
    plugins.from_entry_points = load_entrypoints and not extra_plugins
    return plugins
