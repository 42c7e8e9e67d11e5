"""Reading MatConvNet ``simplenn`` networks from MATLAB v7.3 (HDF5) files and converting them to PyTorch layout.

File layout (measured on the official files; ``shared/weights/MANIFEST.md``): ``net/layers`` is a cell array of
references to structs; a struct's ``type`` is a UTF-16 char array (``conv``, ``relu``, ``SubP``, ``concat``); a
conv layer's ``weights`` cell holds the kernel and the bias, plus ``pad``, ``stride`` and (FFDNet) ``dilate``.

Conversion rules:

- HDF5 stores a MATLAB array with its axes reversed, and MATLAB drops trailing singleton axes: a MatConvNet
  kernel ``[kh, kw, cin, cout]`` is stored as ``(cout, cin, kw, kh)`` (or ``(cin, kw, kh)`` when ``cout = 1``).
  Leading axes of length 1 are restored, then the two spatial axes are swapped to PyTorch's
  ``(cout, cin, kh, kw)``. MatConvNet's ``vl_nnconv`` is a cross-correlation like ``torch.nn.functional.conv2d``
  (no kernel flip). This orientation is checked against the author's own PyTorch conversion of DnCNN-S sigma 25
  (KAIR ``dncnn_25.pth``) in the tests, to float tolerance.
- FFDNet's ``SubP`` layer (``vl_nnSubP``) orders the four sub-images of channel ``c`` as
  ``4c + 2*dx + dy`` (row offset fastest), PyTorch's ``pixel_unshuffle`` as ``4c + 2*dy + dx``. The first conv's
  input channels and the last conv's output channels are permuted once here, so the converted network uses
  ``torch.nn.functional.pixel_unshuffle``/``pixel_shuffle``. The noise-level map is the last input channel.

Anything else (another layer type, batch-norm layers not merged into the convs, other kernel sizes, padding,
strides, depths or channel counts) is refused with one line: the file does not form the expected network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from denoisebench.errors import UnavailableError

H5PY_HINT = ("reading the authors' MatConvNet .mat files needs h5py (an optional dependency of "
             "denoisebench-reference): pip install 'h5py>=3.8'")

#: the networks this plugin knows: family, colour channels, feature maps, number of conv layers
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "dncnn_s": {"name": "dncnn_s", "family": "dncnn", "channels": 1, "features": 64, "depth": 17,
                "title": "DnCNN-S (17 conv layers, gray)"},
    "dncnn_b": {"name": "dncnn_b", "family": "dncnn", "channels": 1, "features": 64, "depth": 20,
                "title": "DnCNN-B (20 conv layers, gray)"},
    "cdncnn_b": {"name": "cdncnn_b", "family": "dncnn", "channels": 3, "features": 64, "depth": 20,
                 "title": "CDnCNN-B (20 conv layers, colour)"},
    "ffdnet_gray": {"name": "ffdnet_gray", "family": "ffdnet", "channels": 1, "features": 64, "depth": 15,
                    "title": "FFDNet gray (15 conv layers, 64 features)"},
    "ffdnet_color": {"name": "ffdnet_color", "family": "ffdnet", "channels": 3, "features": 96, "depth": 12,
                     "title": "FFDNet colour (12 conv layers, 96 features)"},
}


class _Refused(Exception):
    """The layers do not form the expected network (message: what differs)."""


# ---------------------------------------------------------------------------------------------- reading


def _text(ds) -> str:
    return "".join(map(chr, np.asarray(ds[()]).ravel()))


def _numbers(ds) -> list[float]:
    if ds.attrs.get("MATLAB_empty"):
        return []
    return [float(v) for v in np.asarray(ds[()]).ravel()]


def read_simplenn(path: str | Path) -> list[dict[str, Any]]:
    """The layers of a MatConvNet simplenn network in a v7.3 .mat file: dicts with ``type`` and, for conv
    layers, ``weight`` (as stored in HDF5), ``bias``, ``pad``, ``stride``, ``dilate``; ``scale`` for SubP."""
    try:
        import h5py
    except ImportError:
        raise UnavailableError(f"{path}: {H5PY_HINT}") from None
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(128)
    if not h5py.is_hdf5(str(path)):
        if head.startswith(b"MATLAB 5.0 MAT-file"):
            raise UnavailableError(f"{path}: is a MATLAB v5 .mat file, not v7.3 (HDF5); the official files are v7.3: "
                                   f"pass the original file (or re-save it in MATLAB with save(..., '-v7.3'))")
        raise UnavailableError(f"{path}: is not a MATLAB v7.3 (HDF5) .mat file; pass the original file")
    try:
        with h5py.File(str(path), "r") as f:
            if "net" not in f or "layers" not in f["net"]:
                raise _Refused("no net.layers cell array (not a MatConvNet simplenn network)")
            layers = []
            for ref in np.asarray(f["net"]["layers"][()]).ravel():
                g = f[ref]
                if not isinstance(g, h5py.Group) or "type" not in g:
                    raise _Refused(f"layer {len(layers) + 1} is not a struct with a 'type'")
                layer: dict[str, Any] = {"type": _text(g["type"])}
                if layer["type"] == "conv":
                    refs = np.asarray(g["weights"][()]).ravel()
                    if g["weights"].dtype != object or len(refs) != 2:
                        raise _Refused(f"conv layer {len(layers) + 1} has no kernel and bias")
                    layer["weight"] = np.asarray(f[refs[0]][()], dtype=np.float32)
                    layer["bias"] = np.asarray(f[refs[1]][()], dtype=np.float32).ravel()
                    for key in ("pad", "stride", "dilate"):
                        layer[key] = _numbers(g[key]) if key in g else [1.0 if key != "pad" else 0.0]
                elif layer["type"] == "SubP":
                    layer["scale"] = _numbers(g["scale"]) if "scale" in g else []
                layers.append(layer)
    except _Refused as exc:
        raise UnavailableError(f"{path}: {exc}; pass the original file") from None
    except UnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt HDF5 has many failure modes
        text = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise UnavailableError(f"{path}: cannot be read as a MATLAB v7.3 (HDF5) file (truncated or corrupt: "
                               f"{text}); pass the original file") from None
    return layers


# ---------------------------------------------------------------------------------------------- checking


def torch_kernel(stored: np.ndarray) -> np.ndarray:
    """An HDF5-stored MatConvNet kernel -> PyTorch (cout, cin, kh, kw)."""
    w = np.asarray(stored, dtype=np.float32)
    if w.ndim > 4:
        raise _Refused(f"a kernel has {w.ndim} axes")
    w = w.reshape((1,) * (4 - w.ndim) + w.shape)  # restore MATLAB's dropped trailing singletons
    return np.ascontiguousarray(w.transpose(0, 1, 3, 2))


def _conv(layer: dict, index: int, cin: int, cout: int) -> tuple[np.ndarray, np.ndarray]:
    w = torch_kernel(layer["weight"])
    if w.shape != (cout, cin, 3, 3):
        raise _Refused(f"conv layer {index} has a kernel of shape (out, in, h, w) = {w.shape}, "
                       f"expected {(cout, cin, 3, 3)}")
    b = layer["bias"]
    if b.shape != (cout,):
        raise _Refused(f"conv layer {index} has {b.size} biases, expected {cout}")
    if set(layer["pad"]) != {1.0} or set(layer["stride"]) != {1.0} or set(layer["dilate"] or [1.0]) != {1.0}:
        raise _Refused(f"conv layer {index} has pad={layer['pad']}, stride={layer['stride']}, "
                       f"dilate={layer['dilate']}, expected 1, 1, 1")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
        raise _Refused(f"conv layer {index} holds NaN or inf values")
    return w, b


def _body(layers: list[dict], arch: dict, cin: int, cout: int, offset: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """conv, relu, (conv, relu) * (depth - 2), conv -> [(kernel, bias)] in PyTorch layout."""
    types = [la["type"] for la in layers]
    depth, feat = arch["depth"], arch["features"]
    expected = ["conv", "relu"] * (depth - 1) + ["conv"]
    others = sorted({t for t in types if t not in ("conv", "relu")})
    if others:
        extra = " (batch norm not merged into the convs)" if "bnorm" in others else ""
        raise _Refused(f"it has {', '.join(others)} layers{extra}, expected only conv and relu here")
    if types != expected:
        n_conv = types.count("conv")
        if n_conv != depth:
            raise _Refused(f"it has {n_conv} conv layers, expected {depth}")
        raise _Refused("its conv and relu layers do not alternate as conv, relu, ..., conv")
    convs = []
    for i, layer in enumerate(la for la in layers if la["type"] == "conv"):
        cin_i = cin if i == 0 else feat
        cout_i = cout if i == depth - 1 else feat
        convs.append(_conv(layer, offset + 2 * i + 1, cin_i, cout_i))
    return convs


def _subp_perm(channels: int) -> np.ndarray:
    """perm[t] = MatConvNet SubP channel for PyTorch pixel_unshuffle channel t (scale 2)."""
    perm = np.empty(4 * channels, dtype=np.int64)
    for c in range(channels):
        for dy in range(2):
            for dx in range(2):
                perm[4 * c + 2 * dy + dx] = 4 * c + 2 * dx + dy
    return perm


def _state(convs) -> dict[str, np.ndarray]:
    state = {}
    for i, (w, b) in enumerate(convs):
        state[f"model.{2 * i}.weight"] = w  # the key layout of KAIR's DnCNN (Sequential of conv, relu, ...)
        state[f"model.{2 * i}.bias"] = b
    return state


def check_network(layers: list[dict], kind: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(arch, PyTorch state dict) if ``layers`` form the network ``kind``, else :class:`_Refused`."""
    arch = ARCHITECTURES[kind]
    c = arch["channels"]
    if arch["family"] == "dncnn":
        return dict(arch), _state(_body(layers, arch, c, c, 0))
    types = [la["type"] for la in layers]
    if len(types) < 4 or types[:2] != ["SubP", "concat"] or types[-1] != "SubP":
        raise _Refused(f"its layers start {', '.join(types[:2])} and end {types[-1] if types else '-'}, "
                       f"expected SubP, concat, ..., SubP (FFDNet)")
    if layers[0]["scale"] != [0.5] or layers[-1]["scale"] != [2.0]:
        raise _Refused(f"its SubP scales are {layers[0]['scale']} and {layers[-1]['scale']}, expected 0.5 and 2")
    convs = _body(layers[2:-1], arch, 4 * c + 1, 4 * c, 2)
    perm = _subp_perm(c)
    w0, b0 = convs[0]
    convs[0] = (np.ascontiguousarray(np.concatenate([w0[:, perm], w0[:, 4 * c:]], axis=1)), b0)
    wl, bl = convs[-1]
    convs[-1] = (np.ascontiguousarray(wl[perm]), np.ascontiguousarray(bl[perm]))
    return dict(arch), _state(convs)


def convert(path: str | Path, kinds: str | tuple[str, ...]) -> tuple[dict, dict[str, np.ndarray]]:
    """Read ``path`` and convert it to the first of ``kinds`` its layers form; one-line UnavailableError if none."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    layers = read_simplenn(path)
    reasons = []
    for kind in kinds:
        try:
            return check_network(layers, kind)
        except _Refused as exc:
            reasons.append(f"not {ARCHITECTURES[kind]['title']}: {exc}")
    raise UnavailableError(f"{path}: its layers do not form the expected network ({'; '.join(reasons)}); "
                           f"pass the original file")
