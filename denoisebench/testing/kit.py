"""Running conformance checks: subjects, results, expected failures and pytest parametrization.

A *subject* is a plugin class (Denoiser, NoiseModel, Metric or Dataset subclass) with the options to build
it (datasets usually need some, e.g. ``root=``). A *check* is a function ``check_<name>(subject)`` that
raises :class:`CheckFailed` (one line saying what is wrong) or :class:`CheckSkipped` (one line saying why it
does not apply). Expected failures come from the class attribute ``conformance_expected_failures``
(``{"check_name": "reason"}``) or from the ``expected_failures`` argument; they are reported as ``xfail``
and, if they pass after all, as ``xpass`` (a failure: remove the stale declaration).

The shared base (subjects, the check exceptions, the :func:`check` decorator) lives in
:mod:`denoisebench.testing.base`; the check modules import only that, and this module imports them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# the check modules register their checks on import; kit imports them, they import only testing.base
from denoisebench.testing import component_checks, denoiser_checks  # noqa: F401
from denoisebench.testing.base import (
    KINDS,
    CheckFailed,
    CheckSkipped,
    Subject,
    as_subject,
    check,
    kind_of,
    registered_checks,
)

__all__ = [
    "KINDS", "CheckFailed", "CheckResult", "CheckSkipped", "Subject", "as_subject", "check", "checks_for",
    "expected_failures_for", "kind_of", "parametrize_with_checks", "run_check", "run_checks",
]


@dataclass
class CheckResult:
    subject: str
    check: str
    status: str  # pass | fail | skip | xfail | xpass
    detail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "xpass")


def checks_for(subject: Subject) -> list[tuple[str, Callable[[Subject], None]]]:
    """(check name, function) pairs for this subject's kind, in a fixed order."""
    return registered_checks(subject.kind)


ExpectedFailures = Mapping[str, Any] | Callable[[Subject], Mapping[str, str]] | None


def expected_failures_for(subject: Subject, expected: ExpectedFailures = None) -> dict[str, str]:
    """Merge the class's ``conformance_expected_failures`` with ``expected``.

    ``expected`` is ``{check: reason}``, ``{subject name or label: {check: reason}}``, or a callable
    ``subject -> {check: reason}`` (like scikit-learn's ``expected_failed_checks``).
    """
    out = dict(getattr(subject.cls, "conformance_expected_failures", {}) or {})
    if callable(expected):
        out.update(expected(subject) or {})
    elif expected:
        for key, value in expected.items():
            if isinstance(value, Mapping):
                if key in (subject.name, subject.label):
                    out.update(value)
            else:
                out[key] = value
    return out


def run_check(subject: Subject, name: str, func: Callable[[Subject], None], xfail_reason: str | None = None
              ) -> CheckResult:
    t0 = time.perf_counter()
    try:
        func(subject)
    except CheckSkipped as exc:
        return CheckResult(subject.label, name, "skip", str(exc), time.perf_counter() - t0)
    except Exception as exc:  # a check that crashes is a failure of the subject, reported in one line
        detail = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
        detail = " ".join(detail.split())
        if xfail_reason is not None:
            return CheckResult(subject.label, name, "xfail", f"{xfail_reason} ({detail})", time.perf_counter() - t0)
        return CheckResult(subject.label, name, "fail", detail, time.perf_counter() - t0)
    if xfail_reason is not None:
        return CheckResult(subject.label, name, "xpass",
                           f"declared expected failure passed ({xfail_reason}); remove the declaration",
                           time.perf_counter() - t0)
    return CheckResult(subject.label, name, "pass", "", time.perf_counter() - t0)


def run_checks(subjects: Iterable[Any], expected_failures: ExpectedFailures = None, plugins: Any = None
               ) -> list[CheckResult]:
    """Run every check on every subject; never raises for a failing subject."""
    results = []
    for obj in subjects:
        subject = as_subject(obj, plugins)
        xfails = expected_failures_for(subject, expected_failures)
        for name, func in checks_for(subject):
            results.append(run_check(subject, name, func, xfails.get(name)))
    return results


class BoundCheck:
    """A check ready for pytest: calling it with the subject runs the check; skips become ``pytest.skip``."""

    def __init__(self, name: str, func: Callable[[Subject], None]):
        self.name, self.func = name, func

    def __call__(self, subject: Subject) -> None:
        import pytest

        try:
            self.func(subject)
        except CheckSkipped as exc:
            pytest.skip(str(exc))

    def __repr__(self) -> str:
        return self.name


def parametrize_with_checks(subjects: Iterable[Any], expected_failures: ExpectedFailures = None):
    """A ``pytest.mark.parametrize("subject, check", ...)`` over every check of every subject.

    Test ids read ``denoiser:median:no_input_mutation``. Expected failures are strict ``xfail`` marks with
    their reason, so a fixed check shows up as a failure until the declaration is removed::

        @parametrize_with_checks([MyDenoiser, (MyDataset, {"root": "data"})],
                                 expected_failures={"my_denoiser": {"gray_and_colour": "gray only, see #12"}})
        def test_conformance(subject, check):
            check(subject)
    """
    import pytest

    params = []
    for obj in subjects:
        subject = as_subject(obj)
        xfails = expected_failures_for(subject, expected_failures)
        for name, func in checks_for(subject):
            marks = [pytest.mark.xfail(reason=xfails[name], strict=True)] if name in xfails else []
            params.append(pytest.param(subject, BoundCheck(name, func), id=f"{subject.label}:{name}", marks=marks))
    return pytest.mark.parametrize("subject, check", params)
