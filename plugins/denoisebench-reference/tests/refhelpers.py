"""Helpers for the denoisebench-reference tests: where the local weights are, and writing MatConvNet files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[4] / "shared"
WEIGHTS = Path(os.environ.get("DENOISEBENCH_WEIGHTS") or SHARED / "weights")
DATA = Path(os.environ.get("DENOISEBENCH_DATA") or SHARED / "datasets")
needs_weights = pytest.mark.skipif(not (WEIGHTS / "dncnn_sigma25.mat").is_file(),
                                   reason=f"official weight files not available ({WEIGHTS}); set DENOISEBENCH_WEIGHTS")


def write_simplenn(path: Path, layers: list[dict]) -> Path:
    """Write a MatConvNet simplenn network the way MATLAB v7.3 does (HDF5, axes reversed, trailing singleton
    axes dropped, strings as uint16). ``layers``: dicts with ``type``; conv layers carry a PyTorch-layout
    ``weight`` (cout, cin, kh, kw) and ``bias``; SubP layers a ``scale``."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        layer_refs = []
        for i, layer in enumerate(layers):
            g = refs.create_group(f"layer{i}")
            g["type"] = np.array([ord(c) for c in layer["type"]], dtype=np.uint16).reshape(-1, 1)
            if layer["type"] == "conv":
                w = np.asarray(layer["weight"], np.float32).transpose(0, 1, 3, 2)  # MATLAB [kh kw cin cout] reversed
                while w.ndim > 2 and w.shape[0] == 1:  # MATLAB drops trailing singleton axes
                    w = w[0]
                wd = refs.create_dataset(f"w{i}", data=w)
                bd = refs.create_dataset(f"b{i}", data=np.asarray(layer["bias"], np.float32).reshape(1, -1))
                g.create_dataset("weights", data=np.array([[wd.ref], [bd.ref]], dtype=h5py.ref_dtype))
                for key in ("pad", "stride"):
                    g[key] = np.array([[float(layer.get(key, 1))]])
            elif layer["type"] == "SubP":
                g["scale"] = np.array([[float(layer["scale"])]])
            layer_refs.append(g.ref)
        f.create_group("net").create_dataset("layers", data=np.array(layer_refs, dtype=h5py.ref_dtype).reshape(-1, 1))
    with open(path, "r+b") as fh:  # the MATLAB header text in the user block
        fh.write(b"MATLAB 7.3 MAT-file, written by the denoisebench-reference tests")
    return path


def dncnn_layers(depth: int, channels: int = 1, features: int = 8, seed: int = 0) -> list[dict]:
    """A small random DnCNN-shaped layer list (conv, relu, ..., conv)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(depth):
        cin = channels if i == 0 else features
        cout = channels if i == depth - 1 else features
        out.append({"type": "conv", "weight": rng.standard_normal((cout, cin, 3, 3)).astype(np.float32) * 0.1,
                    "bias": rng.standard_normal(cout).astype(np.float32) * 0.01})
        if i < depth - 1:
            out.append({"type": "relu"})
    return out
