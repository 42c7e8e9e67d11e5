"""pytest plugin (entry point ``pytest11``: ``denoisebench``): fixtures for testing denoisebench plugins.

- ``gray_image`` / ``color_image``: fresh float32 48×64 (×3) test images in [0.05, 0.95].
- ``rng``: a ``numpy.random.Generator`` seeded with 0 (fresh per test).
- ``fresh_plugins``: a newly built :class:`denoisebench.pluginmanager.Plugins` with every installed plugin.
- ``make_test_plugins``: factory ``make_test_plugins(module, ..., load_entrypoints=False, disable=())`` that
  builds a plugin manager from the given plugin modules/objects only (named after the module).
"""

from __future__ import annotations

import numpy as np
import pytest

from denoisebench.testing.images import color_image as _color_image
from denoisebench.testing.images import gray_image as _gray_image


@pytest.fixture
def gray_image() -> np.ndarray:
    return _gray_image()


@pytest.fixture
def color_image() -> np.ndarray:
    return _color_image()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def fresh_plugins():
    from denoisebench.pluginmanager import make_plugins

    return make_plugins()


@pytest.fixture
def make_test_plugins():
    from denoisebench.pluginmanager import make_plugins

    def factory(*plugins, load_entrypoints: bool = False, disable=()):
        named = [p if isinstance(p, tuple) else (getattr(p, "__name__", repr(p)).rsplit(".", 1)[-1], p)
                 for p in plugins]
        return make_plugins(extra_plugins=named, load_entrypoints=load_entrypoints, disable=set(disable))

    return factory
