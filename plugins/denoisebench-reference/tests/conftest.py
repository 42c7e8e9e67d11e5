"""Fixtures: the local copy of the official weights (``../shared/weights`` beside the checkout, or
``$DENOISEBENCH_WEIGHTS``) and an empty per-test download/conversion cache."""

from __future__ import annotations

import pytest
from refhelpers import WEIGHTS


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Every test: weights from the local copy, an empty cache, no mirror."""
    monkeypatch.setenv("DENOISEBENCH_WEIGHTS", str(WEIGHTS))
    monkeypatch.setenv("DENOISEBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DENOISEBENCH_WEIGHTS_URL", raising=False)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
