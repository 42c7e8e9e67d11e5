"""The official weight files: where they come from, where they are found, how they are verified and converted.

Each file is the authors' own MatConvNet ``simplenn`` network (MATLAB v7.3 = HDF5), pinned to a git commit of
their repository and to a sha256 (the table below is a copy of ``shared/weights/MANIFEST.md`` and
``checksums.sha256``). A file is looked for, in this order:

1. ``$DENOISEBENCH_WEIGHTS/<file>`` (a folder holding local copies, e.g. ``../shared/weights`` or an offline
   machine's copy); a file there with the wrong sha256 is refused (one line), never silently replaced;
2. the download cache ``<cache>/reference-weights/<file>``, with ``<cache>`` = ``$DENOISEBENCH_CACHE`` or
   ``pooch.os_cache("denoisebench")``;
3. a download with pooch from the pinned URL (or ``$DENOISEBENCH_WEIGHTS_URL/<file>``, a mirror), verified
   against the sha256 before it is kept.

The ``.mat`` file is read once (with h5py, an optional dependency) and converted to
``<cache>/reference-weights/converted/<file stem>-<sha12>-c<CONVERTER>.safetensors``; later loads read only that
safetensors file (whose metadata names the source file and its sha256, and carries a sha256 of the tensors), so
h5py is needed only for the first conversion. Every failure is an :class:`UnavailableError` with one line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from denoisebench.errors import UnavailableError

WEIGHTS_ENV = "DENOISEBENCH_WEIGHTS"
MIRROR_ENV = "DENOISEBENCH_WEIGHTS_URL"
CACHE_ENV = "DENOISEBENCH_CACHE"
#: bump when the conversion changes, so that caches made by an older converter are not reused
CONVERTER = 1

_DNCNN = "https://raw.githubusercontent.com/cszn/DnCNN/e93b27812d3ff523a3a79d19e5e50d233d7a8d0a/model/"
_FFDNET = "https://raw.githubusercontent.com/cszn/FFDNet/e787f46df2f374ff3591186706229cb9a0591fea/models/"
_KAIR = "https://raw.githubusercontent.com/cszn/KAIR/fc1732f4a4514e42ce15e5b3a1e18c828af47a1e/model_zoo/"


@dataclass(frozen=True)
class WeightFile:
    key: str          # our name for the network
    file: str         # file name in $DENOISEBENCH_WEIGHTS and in the cache (as in shared/weights)
    url: str          # pinned, immutable
    sha256: str
    arch: str         # key into matconvnet.ARCHITECTURES ('' for the KAIR state dict)
    title: str        # for messages


OFFICIAL: dict[str, WeightFile] = {w.key: w for w in [
    WeightFile("dncnn_s15", "dncnn_sigma15.mat", _DNCNN + "specifics/sigma=15.mat",
               "657d5115fa05d371dbf0df1f0a931eff274dae29d08a9cc0824a28caf2460e21", "dncnn_s", "DnCNN-S sigma 15"),
    WeightFile("dncnn_s25", "dncnn_sigma25.mat", _DNCNN + "specifics/sigma=25.mat",
               "5a5404c9e3ef14e353760e14b885439408a654618e14f13b2e97b99b9835020b", "dncnn_s", "DnCNN-S sigma 25"),
    WeightFile("dncnn_s50", "dncnn_sigma50.mat", _DNCNN + "specifics/sigma=50.mat",
               "517dc0b55a8da2c129704ed7921b8557aac40cf3aae9f700dc41a9e25cad0983", "dncnn_s", "DnCNN-S sigma 50"),
    WeightFile("dncnn_b", "dncnn_gray_blind.mat", _DNCNN + "GD_Gray_Blind.mat",
               "37f76da0b71dd2b2789ce91848fe2f184ab486203c9af9ac1b98199b60ea02b0", "dncnn_b", "DnCNN-B (gray, blind)"),
    WeightFile("cdncnn_b", "dncnn_color_blind.mat", _DNCNN + "GD_Color_Blind.mat",
               "57db5437a44037e7675a99042fe7b14d3dcdf1c333d3ec665855566e8a59795c", "cdncnn_b",
               "CDnCNN-B (colour, blind)"),
    WeightFile("ffdnet_gray", "ffdnet_gray.mat", _FFDNET + "FFDNet_gray.mat",
               "14c231e87a444a9bd85b0b5e174e73b4f6ac50bf4050e75a0d3f4d69f77a2093", "ffdnet_gray", "FFDNet gray"),
    WeightFile("ffdnet_color", "ffdnet_color.mat", _FFDNET + "FFDNet_color.mat",
               "a4b5a9da21294ab9ba6ed5c6cc459c46dff20c025eb7d3ab82e8e0bb00541793", "ffdnet_color", "FFDNet colour"),
    # the author's own PyTorch conversion of dncnn_s25 (KAIR, MIT): only used to check our conversion
    WeightFile("kair_dncnn_25", "kair_dncnn_25.pth", _KAIR + "dncnn_25.pth",
               "0451a70de9b672ae037270498fbb1c17a1c1c4403785df586ff65df5b858e5b0", "", "KAIR dncnn_25.pth"),
]}


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        base = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        import pooch

        base = Path(pooch.os_cache("denoisebench"))
    return base / "reference-weights"


def _hint(w: WeightFile) -> str:
    return (f"download {w.url} and put it in <dir>/{w.file}, then set {WEIGHTS_ENV}=<dir> "
            f"(see the denoisebench-reference README)")


def _fix(w: WeightFile) -> str:
    return f"put the file in <dir>/{w.file} and set {WEIGHTS_ENV}=<dir> (see the denoisebench-reference README)"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _check_sum(path: Path, w: WeightFile, where: str) -> None:
    got = sha256(path)
    if got != w.sha256:
        raise UnavailableError(
            f"{path}: sha256 {got[:12]}... does not match the official {w.title} file ({w.sha256[:12]}...; {where}); "
            f"it is truncated, corrupted or another file: replace it with {w.url}")


def locate(key: str) -> Path:
    """The verified local path of an official file (downloading it into the cache if needed)."""
    w = OFFICIAL[key]
    local_root = os.environ.get(WEIGHTS_ENV)
    if local_root:
        path = Path(local_root).expanduser() / w.file
        if path.is_file():
            _check_sum(path, w, f"found through {WEIGHTS_ENV}")
            return path
    dest = cache_dir() / w.file
    if dest.is_file() and sha256(dest) == w.sha256:
        return dest
    return _download(w, dest, local_root)


def _download(w: WeightFile, dest: Path, local_root: str | None) -> Path:
    try:
        import pooch
    except ImportError:
        raise UnavailableError(f"{w.file}: not found locally and pooch is not installed to download it; "
                               f"{_hint(w)}") from None
    mirror = os.environ.get(MIRROR_ENV)
    url = f"{mirror.rstrip('/')}/{w.file}" if mirror else w.url
    where = f"not in {WEIGHTS_ENV}={local_root}" if local_root else f"{WEIGHTS_ENV} not set"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        logger = pooch.get_logger()
        level = logger.level
        logger.setLevel("WARNING")
        try:
            pooch.retrieve(url, known_hash=f"sha256:{w.sha256}", fname=dest.name, path=str(dest.parent),
                           downloader=pooch.HTTPDownloader(progressbar=False, timeout=60))
        finally:
            logger.setLevel(level)
    except ValueError as exc:
        m = re.search(r"expected (?:sha256:)?(\w+) but got (\w+)", str(exc))
        if m:
            raise UnavailableError(f"{url}: the downloaded {w.title} file has sha256 {m.group(2)[:12]}..., expected "
                                   f"{w.sha256[:12]}...; it was discarded; {_hint(w)}") from None
        raise UnavailableError(f"{w.file}: {where}, and the download of {url} failed ({_short(exc)}); "
                               f"{_fix(w)}") from None
    except Exception as exc:  # noqa: BLE001 - network errors of every kind are one line
        raise UnavailableError(f"{w.file}: {where}, and the download of {url} failed ({type(exc).__name__}); "
                               f"{_fix(w)}") from None
    return dest


# ------------------------------------------------------------------------------------------ converted files


def tensors_sha256(state: dict[str, np.ndarray]) -> str:
    """A digest of the tensors (names, shapes, float32 bytes) in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        a = np.ascontiguousarray(state[name], dtype=np.float32)
        h.update(f"{name}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_converted(path: Path, arch: dict, state: dict[str, np.ndarray], source: dict) -> None:
    """Write a converted network as safetensors (atomically: a reader never sees half a file)."""
    from safetensors.numpy import save_file

    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}
    meta = {"arch": json.dumps(arch, sort_keys=True), "source": json.dumps(source, sort_keys=True),
            "tensors_sha256": tensors_sha256(state), "converter": str(CONVERTER)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(state, str(tmp), metadata=meta)
    os.replace(tmp, path)


def load_converted(path: Path) -> tuple[dict, dict[str, np.ndarray], dict]:
    """(arch, state, source) from a safetensors file written by :func:`save_converted`; raises ValueError."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    if "arch" not in meta or "tensors_sha256" not in meta:
        raise ValueError("not written by denoisebench-reference (no arch/tensors_sha256 metadata)")
    if tensors_sha256(state) != meta["tensors_sha256"]:
        raise ValueError("its tensors do not match the digest in its metadata (corrupted)")
    return json.loads(meta["arch"]), state, json.loads(meta.get("source", "{}"))


def converted_path(stem: str, digest: str) -> Path:
    return cache_dir() / "converted" / f"{stem}-{digest[:12]}-c{CONVERTER}.safetensors"


def network(key: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(arch, numpy state dict) of an official network: from the converted cache, else verified + converted."""
    from denoisebench_reference import matconvnet

    w = OFFICIAL[key]
    cached = converted_path(Path(w.file).stem, w.sha256)
    if cached.is_file():
        try:
            arch, state, source = load_converted(cached)
            if source.get("sha256") == w.sha256:
                return arch, state
        except Exception:  # noqa: BLE001 - a broken cache entry is rebuilt from the verified source
            pass
    if importlib.util.find_spec("h5py") is None:  # before any download: it could not be read anyway
        raise UnavailableError(f"{w.title}: no converted copy in {cached.parent} yet, and {matconvnet.H5PY_HINT}")
    path = locate(key)
    arch, state = matconvnet.convert(path, w.arch)
    try:
        save_converted(cached, arch, state, {"file": w.file, "url": w.url, "sha256": w.sha256})
    except OSError:
        pass  # a read-only cache: use the network converted in memory
    return arch, state


def user_network(path: str | Path, expected_arch: str | tuple[str, ...]) -> tuple[dict, dict[str, np.ndarray]]:
    """(arch, state) of a user's own file: a MatConvNet ``.mat`` of the expected architecture, or a
    ``.safetensors`` written by this plugin. Not checksum-verified (it is not an official file), but the layers
    must form the expected network."""
    from denoisebench_reference import matconvnet

    path = Path(path).expanduser()
    kinds = (expected_arch,) if isinstance(expected_arch, str) else tuple(expected_arch)
    if not path.is_file():
        raise UnavailableError(f"{path}: weights file not found; pass weights=official or the path of a "
                               f"MatConvNet .mat file of a {' or '.join(kinds)} network")
    if path.suffix == ".safetensors":
        try:
            arch, state, _ = load_converted(path)
        except Exception as exc:  # noqa: BLE001
            raise UnavailableError(f"{path}: not a usable converted weights file ({_short(exc)}); "
                                   f"pass the .mat file it came from instead") from None
        if arch.get("name") not in kinds:
            raise UnavailableError(f"{path}: holds a {arch.get('name')!r} network; pass a {' or '.join(kinds)} network")
        return arch, state
    digest = sha256(path)
    cached = converted_path(path.stem, digest)
    if cached.is_file():
        try:
            arch, state, _ = load_converted(cached)
            if arch.get("name") in kinds:
                return arch, state
        except Exception:  # noqa: BLE001 - rebuilt below
            pass
    arch, state = matconvnet.convert(path, kinds)
    try:
        save_converted(cached, arch, state, {"file": str(path), "sha256": digest})
    except OSError:
        pass
    return arch, state
