"""The shared base of the conformance kit: subjects, the check exceptions and the check registry.

The check modules (:mod:`~denoisebench.testing.denoiser_checks`, :mod:`~denoisebench.testing.component_checks`)
import from here and register their functions with :func:`check`; :mod:`denoisebench.testing.kit` imports the
check modules and runs them. Nothing here imports a check module, so the imports point one way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from denoisebench.errors import ParameterError
from denoisebench.interfaces import Dataset, Denoiser, Metric, NoiseModel

KINDS: dict[str, type] = {"denoiser": Denoiser, "noise_model": NoiseModel, "metric": Metric, "dataset": Dataset}

CheckFunc = Callable[["Subject"], None]
#: values no numeric parameter should accept (wrong type, missing, not a number)
BAD_NUMBERS = ("abc", None, float("nan"))


class CheckFailed(AssertionError):
    """A conformance check failed; the message is one line naming what is wrong and what to do."""


class CheckSkipped(Exception):
    """A check does not apply to this subject (e.g. a declared limitation); the message says why."""


@dataclass(frozen=True)
class Subject:
    """A class under test, its kind, the options it is built with, and (optionally) the loaded plugins."""

    cls: type
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    plugins: Any = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return getattr(self.cls, "name", "") or self.cls.__name__

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    def build(self, **params: Any):
        return self.cls(**{**self.options, **params})

    def __str__(self) -> str:
        return self.label


def kind_of(cls: type) -> str:
    for kind, base in KINDS.items():
        if isinstance(cls, type) and issubclass(cls, base):
            return kind
    raise TypeError(f"{cls!r} is not a Denoiser, NoiseModel, Metric or Dataset subclass")


def as_subject(obj: Any, plugins: Any = None) -> Subject:
    """Accept a Subject, a class, or ``(cls, options)``."""
    if isinstance(obj, Subject):
        return obj
    if isinstance(obj, tuple):
        cls, options = obj
        return Subject(cls, kind_of(cls), dict(options), plugins)
    return Subject(obj, kind_of(obj), {}, plugins)


_CHECKS: dict[str, list[tuple[str, CheckFunc]]] = {kind: [] for kind in KINDS}


def check(kind: str, name: str):
    """Decorator registering a check function for subjects of ``kind`` under a readable ``name``."""

    def deco(func: CheckFunc) -> CheckFunc:
        _CHECKS[kind].append((name, func))
        return func

    return deco


def registered_checks(kind: str) -> list[tuple[str, CheckFunc]]:
    """(check name, function) pairs registered so far for ``kind``, in registration order."""
    return list(_CHECKS[kind])


# ----------------------------------------------------------------------------------------------- parameters


def invalid_values(default: Any, negative: bool = True) -> list[Any]:
    """Obviously invalid values for a parameter whose default is ``default``.

    Numbers: ``'abc'``, ``None``, NaN and (with ``negative``, when the default is positive) ``-1``; strings:
    a number; booleans: a string. A default of ``None`` (often "estimate it") says nothing about the type:
    no values.
    """
    if isinstance(default, bool):
        return ["abc"]
    if isinstance(default, (int, float)):
        out = list(BAD_NUMBERS)
        if negative and default > 0:
            out.append(-1 if isinstance(default, int) else -1.0)
        return out
    if isinstance(default, str):
        return [123]
    return []


def expect_parameter_errors(build: Callable[..., Any], cases: list[tuple[dict[str, Any], str]], where: str) -> None:
    """``build(**params)`` must raise a one-line :class:`ParameterError` for every ``(params, what)`` case."""
    for params, what in cases:
        try:
            build(**params)
        except ParameterError as exc:
            if "\n" in str(exc):
                raise CheckFailed(f"the ParameterError for {what} spans several lines; keep it to one") from exc
            continue
        except Exception as exc:
            raise CheckFailed(f"{what} raised {type(exc).__name__}, not ParameterError; check it in {where} and "
                              f"raise ParameterError naming the value and what to pass") from exc
        raise CheckFailed(f"{what} was accepted; check it in {where} and raise ParameterError naming the value "
                          f"and what to pass")
