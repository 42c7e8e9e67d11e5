"""The conformance kit: checks every denoiser, noise model, metric and dataset plugin must pass.

In the spirit of scikit-learn's ``check_estimator`` / ``parametrize_with_checks``::

    from denoisebench.testing import check_component, parametrize_with_checks

    check_component(MyDenoiser)              # raises CheckFailed listing every failing check

    @parametrize_with_checks([MyDenoiser])   # one pytest test per check: test_x[denoiser:my_denoiser:batch]
    def test_conformance(subject, check):
        check(subject)

The same checks run from the command line (``denoisebench check NAME``) and on the built-ins
(``tests/test_conformance.py``). The pytest plugin (:mod:`denoisebench.testing.pytest_plugin`, registered
through the ``pytest11`` entry point) provides fixtures: ``gray_image``, ``color_image``, ``rng``,
``fresh_plugins`` and ``make_test_plugins``.
"""

from __future__ import annotations

from typing import Any

from denoisebench.testing.images import GAUSSIAN_25, STANDARD_NOISE, add_gaussian, color_image, gray_image
from denoisebench.testing.kit import (
    KINDS,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    Subject,
    as_subject,
    check,
    checks_for,
    expected_failures_for,
    parametrize_with_checks,
    run_checks,
)

REGISTRY_KINDS = {"denoisers": "denoiser", "noise_models": "noise_model", "metrics": "metric", "datasets": "dataset"}

__all__ = [
    "GAUSSIAN_25", "KINDS", "STANDARD_NOISE", "CheckFailed", "CheckResult", "CheckSkipped", "Subject",
    "add_gaussian", "as_subject", "check", "check_component", "checks_for", "color_image",
    "expected_failures_for", "gray_image", "parametrize_with_checks", "plugin_subjects", "run_checks",
]


def check_component(obj: Any, expected_failures=None, plugins: Any = None) -> list[CheckResult]:
    """Run every check on one class (or ``(cls, options)``); raise CheckFailed naming each failure."""
    results = run_checks([obj], expected_failures, plugins)
    bad = [r for r in results if r.failed]
    if bad:
        raise CheckFailed("; ".join(f"{r.check}: {r.detail}" for r in bad))
    return results


def plugin_subjects(plugins: Any, plugin: str, dataset_options: dict[str, Any] | None = None) -> list[Subject]:
    """Subjects for everything the loaded plugin ``plugin`` (entry-point or distribution name) registered.

    ``dataset_options`` are passed to each dataset that accepts them (keys found in its ``defaults``).
    """
    subjects = []
    for kind_attr, kind in REGISTRY_KINDS.items():
        registry = plugins.registry(kind_attr)
        for entry in registry.entries():
            if plugin not in (entry.provider.plugin, entry.provider.distribution):
                continue
            options = {}
            if kind == "dataset" and dataset_options:
                accepted = getattr(entry.obj, "defaults", {}) or {}
                options = {k: v for k, v in dataset_options.items() if k in accepted}
            subjects.append(Subject(entry.obj, kind, options, plugins))
    return subjects
