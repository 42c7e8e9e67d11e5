"""``denoisebench check PLUGIN_OR_NAME``: run the conformance kit and print a pass/fail table.

PLUGIN_OR_NAME is one of (tried in this order):

- a Python file or importable module holding hook implementations (loaded as an extra plugin): everything it
  registers is checked — handy while writing a plugin, before it is installed;
- an installed plugin's entry-point or distribution name (``classical``, ``denoisebench-bm3d``): everything it
  registers;
- a component name, optionally with its kind (``median``, ``denoiser:gaussian``, ``noise_model:gaussian``) or,
  for a dataset, a dataset spec with options (``set12:root=/data``).

Exit status: 0 when every check passes (or fails as declared), 1 when any check fails or the plugin does
not load, 2 for a bad argument.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from denoisebench.errors import ConfigError

KIND_WORDS = {"denoiser": "denoiser", "denoisers": "denoiser", "noise": "noise_model", "noise_model": "noise_model",
              "metric": "metric", "metrics": "metric", "dataset": "dataset", "datasets": "dataset"}
STYLE = {"pass": "green", "fail": "bold red", "xpass": "bold red", "skip": "yellow", "xfail": "yellow"}


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("check", help="run the conformance kit on a plugin or a component",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=_raw())
    add_global_options(p)
    p.add_argument("target", metavar="PLUGIN_OR_NAME",
                   help="plugin (entry-point or distribution name, .py file, module) or component name")
    p.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                   help="option for the datasets checked (e.g. root=/data/sets); repeatable")
    p.add_argument("--failures-only", action="store_true", help="list only failing checks")
    p.add_argument("--check-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="stop a check after SECONDS (each check runs in a child process; default 300, 0: none)")
    p.set_defaults(func=check_command)


def _raw():
    import argparse

    return argparse.RawDescriptionHelpFormatter


def _load_module(target: str):
    """A module named by a .py path or a dotted import path, or None if ``target`` is neither."""
    path = Path(target).expanduser()
    if target.endswith(".py"):
        if not path.is_file():
            raise ConfigError(f"{target}: no such file; pass the path of a plugin module")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(path.stem, None)
            raise PluginLoadFailed(f"plugin {path.stem!r}: error: failed to load {target}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        return module
    if "." in target and ":" not in target and "/" not in target:
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and target.startswith(exc.name):
                return None  # not a module name: try the other interpretations
            raise PluginLoadFailed(f"plugin {target!r}: error: failed to load: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise PluginLoadFailed(f"plugin {target!r}: error: failed to load: {type(exc).__name__}: {exc}") from exc
    return None


class PluginLoadFailed(Exception):
    """The module given on the command line could not be imported (reported as a failed check run)."""


def _component_subjects(plugins, target: str, dataset_options: dict):
    from denoisebench.selection import parse_dataset_spec
    from denoisebench.testing import REGISTRY_KINDS, Subject

    head, sep, rest = target.partition(":")
    kind = KIND_WORDS.get(head) if sep else None
    spec = rest if kind else target
    subjects = []
    for attr, k in REGISTRY_KINDS.items():
        if kind and k != kind:
            continue
        registry = plugins.registry(attr)
        name, options = spec, {}
        if k == "dataset":
            try:
                name, options = parse_dataset_spec(spec, registry)
            except ConfigError:
                continue
            options = {**{key: v for key, v in dataset_options.items()
                          if key in (getattr(registry.get(name), "defaults", {}) or {})}, **options}
        if name in registry:
            subjects.append(Subject(registry.get(name), k, options, plugins))
    return subjects


def check_command(args) -> int:
    from denoisebench.pluginmanager import make_plugins
    from denoisebench.selection import parse_value
    from denoisebench.testing import plugin_subjects, run_checks

    dataset_options = {}
    for item in args.dataset_option:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--dataset-option {item!r}: pass KEY=VALUE, e.g. root=/data/sets")
        dataset_options[key.strip()] = parse_value(value)

    plugins, target = args.plugins, args.target
    try:
        module = _load_module(target)
    except PluginLoadFailed as exc:
        print(exc)
        return 1
    plugin_name = None
    if module is not None:
        plugin_name = module.__name__.rsplit(".", 1)[-1]
        plugins = make_plugins(extra_plugins=[(plugin_name, module)], disable=set(args.disable_plugin))
    elif target in plugins.status or target in {s.distribution for s in plugins.status.values()}:
        plugin_name = target

    if plugin_name is not None:
        bad = [s for s in plugins.status.values() if plugin_name in (s.name, s.distribution) and s.status != "ok"]
        if bad:
            for st in bad:
                print(f"plugin {st.name!r}: {st.status}: {st.reason}")
            return 1
        subjects = plugin_subjects(plugins, plugin_name, dataset_options)
        if not subjects:
            print(f"plugin {plugin_name!r} registered nothing to check")
            return 1
    else:
        subjects = _component_subjects(plugins, target, dataset_options)
        if not subjects:
            names = sorted({s.name for s in plugins.status.values()})
            raise ConfigError(f"{target!r} is neither a plugin ({', '.join(names)}), a .py file or module, nor a "
                              f"registered denoiser, noise model, metric or dataset; see `denoisebench list`")

    results = _isolated_checks(subjects, plugins, args.check_timeout) if _can_fork() else \
        run_checks(subjects, plugins=plugins)
    _print(results, args.failures_only)
    return 1 if any(r.failed for r in results) else 0


def _can_fork() -> bool:
    import multiprocessing as mp

    return "fork" in mp.get_all_start_methods()


def _isolated_checks(subjects, plugins, timeout: float):
    """Every check in a child process of its own (forked: it inherits the classes under test), so a component
    that segfaults, exits or hangs fails that check with the reason and the other checks run."""
    from denoisebench.testing.kit import as_subject, checks_for, expected_failures_for

    results = []
    for obj in subjects:
        subject = as_subject(obj, plugins)
        xfails = expected_failures_for(subject)  # the class's conformance_expected_failures, as run_checks uses
        for name, func in checks_for(subject):
            results.append(_check_in_child(subject, name, func, timeout, xfails.get(name)))
    return results


def _check_in_child(subject, name, func, timeout: float, xfail_reason: str | None = None):
    import multiprocessing as mp
    import os
    import signal

    from denoisebench.engine.pool import how_it_ended
    from denoisebench.testing.kit import CheckResult

    ctx = mp.get_context("fork")
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_check, args=(theirs, subject, name, func, xfail_reason), daemon=True)
    proc.start()
    theirs.close()
    try:
        if ours.poll(timeout or None):
            try:
                return ours.recv()
            except EOFError:
                pass
        else:
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            return CheckResult(subject.label, name, "fail", f"timed out after {timeout:g} s (the check's process "
                                                            "was killed); pass a larger --check-timeout")
        proc.join(5)
        return CheckResult(subject.label, name, "fail", f"the check's process {how_it_ended(proc.exitcode)} "
                                                        f"while running it (the component crashed it)")
    finally:
        ours.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


def _child_check(conn, subject, name, func, xfail_reason: str | None = None) -> None:
    import faulthandler
    import signal

    from denoisebench.testing.kit import run_check

    faulthandler.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn.send(run_check(subject, name, func, xfail_reason))
    except BaseException as exc:  # SystemExit / KeyboardInterrupt from the component: a failed check
        from denoisebench.testing.kit import CheckResult

        conn.send(CheckResult(subject.label, name, "fail", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _print(results, failures_only: bool) -> None:
    from denoisebench.reporting.console import make_console, show_line, show_table

    rows = [[r.subject, r.check, r.status.upper(), r.detail] for r in results if not failures_only or r.failed]
    console = make_console()
    show_table(console, "Conformance checks", ("component", "check", "result", "detail"), rows, styled=(2,))
    counts = {s: sum(r.status == s for r in results) for s in STYLE}
    failed = counts["fail"] + counts["xpass"]
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    show_line(console, f"{'FAILED' if failed else 'PASSED'} {summary} ({len({r.subject for r in results})} "
                       "components)", "bold red" if failed else "bold green")
