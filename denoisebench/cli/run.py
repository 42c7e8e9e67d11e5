"""``denoisebench run``: run a benchmark grid into a run directory, then print and write its report."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from denoisebench.config import Config
from denoisebench.errors import ConfigError, StoreError
from denoisebench.protocols import PROTOCOLS, QUANTIZE, apply_protocol
from denoisebench.selection import split_list

#: seconds one denoiser or metric call may take by default before it is stopped (a hang never stalls a run)
DEFAULT_CELL_TIMEOUT = 900.0
#: exit status of a run in which a cell ended as ``error`` or ``timeout`` (unless --allow-errors)
EXIT_CELL_FAILURES = 3


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("run", help="run denoisers × noise settings × images and report",
                       description="Run a benchmark. With no selection, every registered denoiser runs on every "
                                   "noise model at its standard levels on the embedded dataset.")
    add_global_options(p)
    p.add_argument("--all", action="store_true", help="every denoiser and noise type (the default selection)")
    p.add_argument("--denoisers", action="append", metavar="NAMES", help="comma-separated denoiser names")
    p.add_argument("--noise", action="append", metavar="SPECS",
                   help="noise selection: 'gaussian' (all levels), 'gaussian:25', 'mixed:sigma=15,amount=0.2'")
    p.add_argument("--dataset", action="append", metavar="SPEC",
                   help="dataset: embedded (default), set12, bsd68, ..., folder:PATH, or a directory; repeatable")
    p.add_argument("--metrics", action="append", metavar="NAMES", help="comma-separated metric names (default all)")
    p.add_argument("--param", action="append", default=[], metavar="DENOISER.PARAM=VALUE[,VALUE...]",
                   help="set a denoiser parameter, e.g. median.size=5; a comma-separated list (median.size=3,5,7) "
                        "runs one cell per value (a JSON list [3,5] is one value); repeatable")
    p.add_argument("--sweep", action="append", nargs="?", const="*", metavar="DENOISERS",
                   help="sweep each selected denoiser's param_grid (Cartesian product; --param values of the same "
                        "parameter win); --sweep median,gaussian: only those")
    p.add_argument("--metric-option", action="append", default=[], metavar="METRIC.OPTION=VALUE",
                   help="metric option, e.g. f1.threshold=0.5; '*.threshold=0.5' sets it on every metric that takes it")
    p.add_argument("--threshold", metavar="T",
                   help="Table 1 threshold for the classification metrics: 'otsu' of the clean image (default) or "
                        "a value in (0, 1); same as --metric-option '*.threshold=T'")
    p.add_argument("--seed", type=int, default=0, help="base seed of the noise (default 0)")
    p.add_argument("--repetitions", type=int, default=1, help="noise draws per image and setting (default 1)")
    p.add_argument("--max-images", type=int, default=0, help="use at most N images of each dataset")
    p.add_argument("--protocol", default="default", choices=sorted(PROTOCOLS),
                   help="a named set of conventions published tables depend on: default (noisy clipped, float "
                        "outputs scored) or kair (DnCNN/FFDNet test scripts: noise not clipped, outputs rounded to "
                        "uint8 before PSNR/SSIM); explicit --clip/--no-clip/--quantize override it (recorded)")
    clip = p.add_mutually_exclusive_group()
    clip.add_argument("--no-clip", dest="clip", action="store_false", default=None,
                      help="do not clip noisy images to [0, 1] (as --protocol kair)")
    clip.add_argument("--clip", dest="clip", action="store_true", help="clip noisy images to [0, 1] (default)")
    p.add_argument("--quantize", choices=QUANTIZE, help="score outputs as floats (none, default) or rounded to "
                                                         "8-bit levels (uint8, as --protocol kair)")
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                   help=f"stop a denoiser or metric call after SECONDS (its worker process is killed and replaced) "
                        f"and record it as 'timeout' (default {DEFAULT_CELL_TIMEOUT:g} s; 0: no limit); timed-out "
                        "cells run again when the run is resumed")
    p.add_argument("-j", "--jobs", type=int, default=1,
                   help="worker processes: plugin code always runs in workers, never in this process (default 1; "
                        "at most one per task)")
    p.add_argument("--allow-errors", action="store_true",
                   help=f"exit 0 even when cells end as error or timeout (default: exit {EXIT_CELL_FAILURES})")
    p.add_argument("--executor", default="local", choices=["local", "dask"], help="where cells run")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --executor dask: use the running dask scheduler at ADDRESS (tcp://HOST:PORT)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --executor dask: start a local dask cluster of N worker processes (default: --jobs)")
    p.add_argument("--output", metavar="RUN_DIR",
                   help="run directory (default reports/run-<dataset>-<hash of the options>; an existing one "
                        "with the same options is resumed)")
    p.add_argument("--from", dest="from_run", metavar="RUN_DIR",
                   help="re-run (resume) the configuration stored in RUN_DIR, or re-run a baseline file's "
                        "configuration into --output")
    p.add_argument("--dry-run", action="store_true",
                   help="resolve every name, noise spec and parameter (one-line errors), print the grid's size and "
                        "the run directory, run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no tables")
    p.add_argument("--summary-only", action="store_true",
                   help="print only the summary at the end (best denoiser per noise type, failed cells), no tables")
    p.add_argument("--no-figures", action="store_true", help="write the report without figures (faster)")
    p.add_argument("--figure-denoisers", action="append", metavar="NAMES",
                   help="comma-separated denoisers the visual figure shows (default: every denoiser of the run)")
    p.add_argument("--quick", action="store_true",
                   help="CI profile: 4 embedded images cropped to 128x128, one level per noise type (see "
                        "denoisebench.profiles); explicit options override it")
    p.set_defaults(func=run_command)


#: options that select what a run computes: --from re-runs a stored selection, so they cannot go with it
SELECTION_OPTIONS = {"denoisers": None, "noise": None, "dataset": None, "metrics": None, "param": [],
                     "sweep": None, "metric_option": [], "threshold": None, "seed": 0, "repetitions": 1,
                     "max_images": 0, "protocol": "default", "clip": None, "quantize": None, "quick": False}


def _check_from(args) -> None:
    given = [k for k, default in SELECTION_OPTIONS.items() if getattr(args, k, default) != default]
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"--from {args.from_run} re-runs its stored selection; {flags} cannot change it: drop "
                          f"{flags}, or start a new run without --from")
    if not Path(args.from_run).exists():
        raise ConfigError(f"--from {args.from_run}: no such run directory or baseline file; pass a run directory "
                          "written by `denoisebench run` or a baseline file (.jsonl)")


def config_from_args(args) -> Config:
    if args.from_run:
        _check_from(args)
    if args.max_images < 0:
        raise ConfigError(f"--max-images {args.max_images}: pass a number of images >= 1 (0 or none: all of them)")
    if args.from_run and Path(args.from_run).is_file():  # a baseline file: re-run its pinned config elsewhere
        from denoisebench.baseline.file import config_from_baseline

        stored = config_from_baseline(args.from_run)
        args.from_run = None  # the run directory is --output (or the default), never the file
        return Config.from_dict({**stored, "jobs": args.jobs, "executor": args.executor,
                                 "cell_timeout": args.cell_timeout})
    if args.from_run:
        from denoisebench.store import Store

        with Store(args.from_run) as store:
            stored = store.get_meta("config")
        if stored is None:
            raise StoreError(f"{args.from_run}: no configuration stored; pass a run directory of `denoisebench run`")
        return Config.from_dict({**stored, "jobs": args.jobs, "executor": args.executor,
                                 "cell_timeout": args.cell_timeout})
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: pass a number of worker processes >= 1")
    config = Config(
        # split here so `--denoisers a,b` and `--denoisers a --denoisers b` are the same config (same digest)
        datasets=tuple(args.dataset or ("embedded",)), denoisers=tuple(split_list(args.denoisers)),
        noise=tuple(split_list(args.noise)), metrics=tuple(split_list(args.metrics)), seed=args.seed,
        repetitions=args.repetitions, max_images=args.max_images, params=tuple(args.param),
        sweep=tuple(split_list(args.sweep)),
        metric_options=tuple(args.metric_option) + ((f"*.threshold={args.threshold}",) if args.threshold else ()),
        jobs=args.jobs, executor=args.executor, disable_plugins=tuple(args.disable_plugin),
        cell_timeout=args.cell_timeout,
    )
    from dataclasses import asdict

    explicit = {k: v for k, v in (("clip", args.clip), ("quantize", args.quantize)) if v is not None}
    config = Config(**apply_protocol(args.protocol, {**asdict(config), **explicit}, set(explicit)))
    if args.quick:  # the CI preset (denoisebench.profiles); options given explicitly win
        from denoisebench.profiles import apply_profile

        explicit = {k for k, given in (("datasets", args.dataset), ("noise", args.noise), ("seed", args.seed),
                                       ("max_images", args.max_images), ("repetitions", args.repetitions != 1))
                    if given}
        config = Config(**apply_profile("quick", asdict(config), explicit))
    return config


def executor_options(args) -> dict:
    """Extra options for the executor (the dask executor adds its own arguments to this parser)."""
    options = {k: getattr(args, k) for k in ("scheduler", "workers") if getattr(args, k, None) is not None}
    if options and args.executor != "dask":
        raise ConfigError(f"--{next(iter(options))}: a dask option; pass --executor dask with it")
    return options


#: modules the report needs that a run has not imported by the time its cells run (pandas, scipy.special: tenths
#: of a second of imports): imported in a background thread meanwhile, while the workers compute
REPORT_MODULES = ("pandas", "denoisebench.reporting.tables", "denoisebench.reporting.files",
                  "denoisebench.reporting.terminal", "denoisebench.reporting.paper", "denoisebench.reporting.html",
                  "denoisebench.reporting.perimage", "denoisebench.reporting.regenerate", "scipy.special")
#: and those of the tests across denoisers (0.5 s of CPU), when the run has two or more: a report of one
#: denoiser against the noisy input needs none of them (:mod:`denoisebench.stats`)
COMPARISON_MODULES = ("scipy.stats", "statsmodels.stats.anova", "statsmodels.stats.multitest")


class _Quiet(argparse.ArgumentParser):
    def error(self, message):  # a bad option is the real parser's to report, with its usage
        raise ValueError(message)


def start_workers_early(argv: list[str], disable: list[str] | tuple[str, ...] = ()) -> None:
    """Start the local workers of a ``run`` command now, before this process loads its plugins: a worker is a
    fresh interpreter that loads them too (≈ 0.5 s), which then overlaps this process's plugin loading and
    planning instead of following it. The executor of the run takes these workers over (``engine.local``'s warm
    pool); when the run turns out to need other ones (a plugin failed to load here, so the workers must not load
    it; a dry run; an error in the arguments), they are stopped unused. Does nothing unless ``argv`` is a local
    ``run``; at most one worker per CPU core. ``disable``: the ``--disable-plugin`` names, as the command line's
    pre-parse read them."""
    pre = _Quiet(add_help=False)
    pre.add_argument("command", nargs="?")
    pre.add_argument("-j", "--jobs", type=int, default=1)
    pre.add_argument("--executor", default="local")
    pre.add_argument("--dry-run", action="store_true")
    try:
        args = pre.parse_known_args(argv)[0]
    except (ValueError, SystemExit):
        return
    if (args.command != "run" or args.executor != "local" or args.dry_run or args.jobs < 1
            or {"-h", "--help", "--version"} & set(argv)):
        return
    from denoisebench.engine.local import LocalExecutor

    LocalExecutor(args.jobs, tuple(disable)).prestart(min(args.jobs, os.cpu_count() or 1))


def _import_meanwhile(names: tuple[str, ...]):
    """Import ``names`` in a daemon thread (a module that fails to import is imported again, and fails with its
    own message, where the report needs it)."""
    import importlib
    import threading

    def work() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                pass

    thread = threading.Thread(target=work, name="denoisebench-report-imports", daemon=True)
    thread.start()
    return thread


def _close_meanwhile(executor):
    """Close the executor (stop its workers) in a thread; the caller joins it before it returns."""
    import threading

    thread = threading.Thread(target=executor.close, name="denoisebench-close-workers", daemon=True)
    thread.start()
    return thread


def run_command(args) -> int:
    from denoisebench.engine.executors import make_executor
    from denoisebench.reporting.console import make_console

    console = make_console()
    plugins = args.plugins
    config = config_from_args(args)
    executor = None
    if not args.dry_run:
        executor = make_executor(config.executor, jobs=config.jobs, disable=config.disable_plugins,
                                 plugins=plugins, **executor_options(args))
        prestart = getattr(executor, "prestart", None)
        if prestart is not None:  # its first worker imports the plugins while this process plans the run
            prestart()
    try:
        return _run(args, console, plugins, config, executor)
    finally:
        if executor is not None:
            executor.close()


def _run(args, console, plugins, config, executor) -> int:
    from denoisebench.engine.grid import make_plan
    from denoisebench.engine.local import inherits_plugins
    from denoisebench.engine.provenance import default_run_dir, open_store
    from denoisebench.engine.runner import pending_count
    from denoisebench.reporting.console import show_line, show_parts
    from denoisebench.store import RunLock

    plan = make_plan(config, plugins)
    prestart = getattr(executor, "prestart", None)
    if prestart is not None and len(plan.tasks) > 1:  # the other workers start while the store opens
        prestart(len(plan.tasks))
    figure_denoisers = split_list(args.figure_denoisers) or None
    unknown = [n for n in figure_denoisers or () if n not in plan.denoisers]
    if unknown:
        raise ConfigError(f"--figure-denoisers {','.join(unknown)}: not a denoiser of this run; it has "
                          f"{', '.join(plan.denoisers)}")
    run_dir = Path(args.output or args.from_run or default_run_dir(config))
    if args.dry_run:
        show_parts(console, [f"dry run: {plan.n_cells} cells ({plan.shape_text()} × {config.repetitions} "
                             f"repetition(s));", f"run directory {run_dir}"])
        return 0
    if config.executor == "local" and config.jobs > (os.cpu_count() or 1):
        show_line(console, f"warning: -j {config.jobs} is more than the {os.cpu_count()} CPU cores here; the "
                           "workers will compete for them", "yellow")
    lock = RunLock(run_dir)
    lock.__enter__()  # a second run on this directory refuses here, before it records anything
    try:
        store = open_store(run_dir, config, plugins, plan)
    except BaseException:
        lock.__exit__(None, None, None)
        raise
    closing = None
    try:
        todo = pending_count(plan, store)
        if not args.quiet:
            show_parts(console, [f"run directory: {run_dir}", f"({plan.n_cells} cells, {todo} to run; "
                                                                f"{plan.shape_text()})"], sep="  ")
            for st in plugins.errors:
                show_line(console, f"plugin {st.name}: {st.reason}", "yellow")
            for line in plugins.problems:  # entries skipped because another plugin registered the name first
                show_line(console, line, "yellow")
        if config.executor != "local" or not inherits_plugins(plugins):  # never beside a fork of this process
            _import_meanwhile(REPORT_MODULES + (COMPARISON_MODULES if len(plan.denoisers) > 1 else ()))
        t0 = time.perf_counter()
        counts = _execute_with_progress(plan, store, executor, plugins, todo, console, args.quiet)
        elapsed = time.perf_counter() - t0
        # the local workers exit while the report is built (a dask cluster is closed by the caller, at the end)
        closing = _close_meanwhile(executor) if config.executor == "local" else None
        from denoisebench.reporting.files import write_report
        from denoisebench.reporting.tables import build_report
        from denoisebench.reporting.terminal import print_report, print_summary

        report = build_report(store)
        write_report(report, run_dir, figures=not args.no_figures, figure_denoisers=figure_denoisers)
        if not args.quiet and not args.summary_only:
            print_report(report, console)
        if not args.quiet:
            paths = [str(run_dir / name) for name in ("report.md", "report.html") if (run_dir / name).exists()]
            print_summary(report, console, paths)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"
        if not args.quiet:
            console.print()
        show_parts(console, [f"{summary} in {elapsed:.1f} s;", f"report: {run_dir / 'report.md'}"])
    finally:
        if closing is not None:
            closing.join()
        store.close()
        lock.__exit__(None, None, None)
    failed = counts.get("error", 0) + counts.get("timeout", 0)
    if failed and not args.allow_errors:
        show_line(console, f"{failed} cells failed (error or timeout; see the report's error table, or pass "
                           f"--allow-errors to exit 0); re-run the same command to retry them only", "red")
        return EXIT_CELL_FAILURES
    return 0


def _execute_with_progress(plan, store, executor, plugins, todo, console, quiet):
    from denoisebench.engine.runner import execute

    if quiet or todo == 0:
        return execute(plan, store, executor, plugins)
    from denoisebench.reporting.console import progress

    with progress(console, todo) as update:
        errors = 0

        def on_result(result):
            nonlocal errors
            errors += result.status == "error"
            update(result.denoiser, errors)

        return execute(plan, store, executor, plugins, on_result)
