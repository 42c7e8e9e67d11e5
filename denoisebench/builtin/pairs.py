"""Paired (real-noise) datasets: ``polyu``, ``pairs:PATH``, ``sidd:PATH``, ``nam:PATH``.

Each image id has a reference (:meth:`load`, e.g. the mean of many shots of a static scene) and a real noisy
capture (:meth:`noisy`); their cells get the noise setting ``real`` (see :class:`denoisebench.builtin.noise.Real`).

- ``polyu``: PolyU real-world noisy images, cropped set (Xu et al. 2018, arXiv:1804.02603): 100 pairs of
  512x512 RGB JPEG crops, ``<camera>_<f-number>_<shutter>_<ISO>_<scene>_<n>_{real,mean}.JPG``; the image id is
  the stem before ``_real``/``_mean`` and keeps camera and ISO (groups ``camera``, ``iso``). Located, downloaded
  and verified like the other standard sets (options ``root``, ``verify``, ``download``, ``mirror``).
- ``pairs:PATH``: a folder of your own pairs, in one of two naming schemes (both in one folder is refused):

  1. suffixes: ``X_noisy.<ext>`` with ``X_clean.<ext>`` (``_real`` is accepted for ``_noisy``; ``_mean`` and
     ``_gt`` for ``_clean``); image id ``X``;
  2. subfolders: ``noisy/`` and ``clean/`` (or ``gt/``) holding files with the same stem; image id = the stem.

  A pair with one side missing or two files for one side is listed, and its cells are ``error`` rows naming
  the file; the other pairs run. A pair whose images differ in size or channels is an ``error`` row too.
  No checksum is known for such a folder: the sha256 of every file is recorded in the run (meta
  ``dataset_files``). Option ``gray`` as for ``folder``.
- ``sidd:PATH``: the SIDD sRGB validation blocks, ``ValidationNoisyBlocksSrgb.mat`` and
  ``ValidationGtBlocksSrgb.mat`` (keys of the same names, uint8 arrays of shape images x blocks x H x W x 3, 40 x
  32 x 256 x 256 x 3 as published) from a local folder (SIDD cannot be downloaded from here); MATLAB v5 files
  are read with scipy, v7.3 (HDF5) with h5py. Image id ``<image>_<block>`` (1-based, two digits); group
  ``image``. Unexpected keys, shapes or dtypes are one line naming the file and what was expected.
- ``nam:PATH``: Nam et al.'s "cross-channel" real-noise set (CVPR 2016, the CC crops) from a local folder in the
  suffix scheme ``<camera>_iso<N>_<k>_real.png`` / ``_mean.png``; groups ``camera`` and ``iso``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from denoisebench.builtin.standard_sets import SetFiles, SetInfo, natural_key, sha256_file
from denoisebench.errors import DatasetError, ParameterError
from denoisebench.images import IMAGE_SUFFIXES, load_image, to_float
from denoisebench.interfaces import Dataset, check_params

NOISY_SUFFIXES = ("noisy", "real")
CLEAN_SUFFIXES = ("clean", "mean", "gt")
NOISY_DIRS = ("noisy",)
CLEAN_DIRS = ("clean", "gt")
RULE = ("name pairs X_noisy.<ext> + X_clean.<ext> (or _real / _mean, _gt), or put them in noisy/ and clean/ "
        "subfolders with the same file names")

POLYU = SetInfo(
    "polyu", "polyu_cropped", "https://raw.githubusercontent.com/csjunxu/PolyU-Real-World-Noisy-Images-Dataset/"
    "3af0f2646b267a00446fe4b7113a15e67bc80b4e/CroppedImages/", True,
    "PolyU real-world noise, cropped: 100 pairs (real noisy capture, mean of many shots) of 512x512 RGB JPEG "
    "crops from 5 cameras (Xu et al. 2018)",
    "BSD-style licence with a non-commercial clause (teaching, academic research, demonstrations); cite Xu et "
    "al., arXiv:1804.02603")
#: PolyU file-name tokens: camera, f-number, shutter (1/s), ISO, scene, crop index
POLYU_ID = re.compile(r"^(?P<camera>[A-Za-z0-9]+)_(?P<fnumber>[\d-]+)_(?P<shutter>\d+)_(?P<iso>\d+)_"
                      r"(?P<scene>[A-Za-z0-9]+)_+(?P<crop>\d+)$")
NAM_ID = re.compile(r"^(?P<camera>.+?)_iso(?P<iso>\d+)(?:_|$)", re.IGNORECASE)


def _flag(owner: str, key: str, value: Any, allow_none: bool = False) -> None:
    if not (isinstance(value, bool) or (allow_none and value is None)):
        what = "true, false or none" if allow_none else "true or false"
        raise ParameterError(f"{owner}: {key}={value!r} is invalid; pass {what}")


def _required_path(owner: str, value: Any, example: str) -> str:
    if value in (None, ""):
        raise ParameterError(f"{owner}: option path is required; pass {example}")
    return str(Path(str(value)).expanduser().resolve())


def _images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES), key=lambda q: natural_key(q.name))


def _file_entry(path: Path) -> dict[str, str]:
    return {"path": str(path), "sha256": sha256_file(path)} if path.is_file() else {"path": str(path)}


# ----------------------------------------------------------------------------------------------- polyu


class PolyU(Dataset):
    """PolyU cropped real-noise pairs, verified file by file against the packaged sha256 list."""

    name = POLYU.name
    description = POLYU.description
    license = POLYU.license
    color = True
    paired = True
    info: ClassVar[SetInfo] = POLYU
    defaults: ClassVar[dict[str, Any]] = {"root": None, "verify": True, "download": True, "mirror": None}
    positional_option: ClassVar[str] = "root"

    def __init__(self, **options: Any):
        owner = f"dataset {self.name!r}"
        opts = check_params(owner, options, self.defaults)
        for key in ("verify", "download"):
            _flag(owner, key, opts[key])
        opts["root"] = str(Path(str(opts["root"])).expanduser().resolve()) if opts["root"] not in (None, "") else None
        mirror = opts["mirror"]
        if mirror is not None and not (isinstance(mirror, str) and mirror.startswith(("http://", "https://"))):
            raise ParameterError(f"{owner}: mirror={mirror!r} is invalid; pass an http(s) URL under which "
                                 "<folder>/<file> is served")
        super().__init__(**opts)
        self.files = SetFiles(self.info, **opts)
        stems = {f.rsplit(".", 1)[0] for f in self.files.hashes}
        self._ids = sorted({s[: -len("_real")] for s in stems if s.endswith("_real")}, key=natural_key)

    def ids(self) -> list[str]:
        self.files.prepare()
        return list(self._ids)

    def _fname(self, image_id: str, side: str) -> str:
        if image_id not in self._ids:
            raise DatasetError(f"dataset {self.name!r} has no image {image_id!r}; ids run {self._ids[0]} ... "
                               f"{self._ids[-1]}")
        return f"{image_id}_{side}.JPG"

    def load(self, image_id: str) -> np.ndarray:
        return load_image(self.files.path(self._fname(image_id, "mean")), gray=False)

    def noisy(self, image_id: str) -> np.ndarray:
        return load_image(self.files.path(self._fname(image_id, "real")), gray=False)

    def provenance(self, image_id: str) -> dict[str, Any]:
        ref, cap = self._fname(image_id, "mean"), self._fname(image_id, "real")
        folder, local = self.files.locate()
        return {"dataset": self.name, "image_id": image_id, "file": ref, "noisy_file": cap,
                "source": self.files.url(ref), "noisy_source": self.files.url(cap),
                "path": str(folder / ref), "noisy_path": str(folder / cap), "local_copy": local,
                "sha256": self.files.hashes[ref], "noisy_sha256": self.files.hashes[cap],
                "verified": self.options["verify"] or not local, "license": self.license}

    def groups(self, image_id: str) -> dict[str, str]:
        m = POLYU_ID.match(image_id)
        return {"camera": m["camera"], "iso": m["iso"]} if m else {}


# ----------------------------------------------------------------------------------------------- folders


class Pairs(Dataset):
    """A folder of (noisy, clean) pairs in one of two naming schemes (module docstring)."""

    name = "pairs"
    description = "a folder of real-noise pairs: X_noisy.* + X_clean.*, or noisy/ + clean/ subfolders"
    license = "unknown (user-supplied images)"
    paired = True
    defaults: ClassVar[dict[str, Any]] = {"path": None, "gray": None}
    positional_option: ClassVar[str] = "path"
    #: the option whose folder name joins the stored dataset label (``pairs:<folder name>``)
    label_option: ClassVar[str] = "path"

    def __init__(self, **options: Any):
        owner = f"dataset {self.name!r}"
        opts = check_params(owner, options, self.defaults)
        opts["path"] = _required_path(owner, opts["path"], f"{self.name}:/path/to/pairs")
        _flag(owner, "gray", opts["gray"], allow_none=True)
        super().__init__(**opts)
        self._pairs: dict[str, dict[str, list[Path]]] | None = None
        self.skipped: list[str] = []

    def _scan(self) -> dict[str, dict[str, list[Path]]]:
        if self._pairs is not None:
            return self._pairs
        folder = Path(self.options["path"])
        where = f"dataset {self.name!r}: {folder}"
        if not folder.is_dir():
            raise DatasetError(f"{where} {'is a file, not a folder' if folder.exists() else 'does not exist'}; "
                               f"pass a folder of pairs ({RULE})")
        dirs = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
        noisy_dir = next((dirs[d] for d in NOISY_DIRS if d in dirs), None)
        clean_dir = next((dirs[d] for d in CLEAN_DIRS if d in dirs), None)
        suffixed = [p for p in _images(folder) if self._side_of(p)[0]]
        if (noisy_dir or clean_dir) and suffixed:
            raise DatasetError(f"{where} mixes both naming schemes ({(noisy_dir or clean_dir).name}/ subfolder "
                               f"and suffixed files such as {suffixed[0].name}); use one: {RULE}")
        pairs: dict[str, dict[str, list[Path]]] = {}
        if noisy_dir or clean_dir:
            if not (noisy_dir and clean_dir):
                have, need = (noisy_dir, "clean/ (or gt/)") if noisy_dir else (clean_dir, "noisy/")
                raise DatasetError(f"{where} has {have.name}/ but no {need} subfolder; {RULE}")
            for side, sub in (("noisy", noisy_dir), ("clean", clean_dir)):
                for p in _images(sub):
                    pairs.setdefault(p.stem, {"noisy": [], "clean": []})[side].append(p)
        else:
            for p in _images(folder):
                side, stem = self._side_of(p)
                if side:
                    pairs.setdefault(stem, {"noisy": [], "clean": []})[side].append(p)
                else:
                    self.skipped.append(p.name)
        if not pairs:
            extra = f" ({len(self.skipped)} image files without a _noisy/_clean suffix)" if self.skipped else ""
            raise DatasetError(f"{where}: no pairs found{extra}; {RULE}")
        self._pairs = {k: pairs[k] for k in sorted(pairs, key=natural_key)}
        return self._pairs

    @staticmethod
    def _side_of(path: Path) -> tuple[str, str]:
        stem, _, tag = path.stem.rpartition("_")
        tag = tag.lower()
        if stem and tag in NOISY_SUFFIXES:
            return "noisy", stem
        if stem and tag in CLEAN_SUFFIXES:
            return "clean", stem
        return "", path.stem

    def ids(self) -> list[str]:
        return list(self._scan())

    def _side(self, image_id: str, side: str) -> Path:
        pairs = self._scan()
        if image_id not in pairs:
            raise DatasetError(f"dataset {self.name!r} ({self.options['path']}) has no pair {image_id!r}")
        files, other = pairs[image_id][side], pairs[image_id]["noisy" if side == "clean" else "clean"]
        if len(files) > 1:
            raise DatasetError(f"dataset {self.name!r}: pair {image_id!r} has {len(files)} {side} files "
                               f"({', '.join(str(p) for p in files)}); keep exactly one")
        if not files:
            what = "reference (clean)" if side == "clean" else "noisy capture"
            expected = (f"{image_id}_{side if side == 'noisy' else 'clean'}.<ext>" if other and
                        other[0].parent == Path(self.options["path"]) else
                        f"{'clean/ (or gt/)' if side == 'clean' else 'noisy/'}{image_id}.<ext>")
            raise DatasetError(f"dataset {self.name!r}: {other[0]} has no {what}; expected {expected}")
        return files[0]

    def load(self, image_id: str) -> np.ndarray:
        return load_image(self._side(image_id, "clean"), gray=self.options["gray"])

    def noisy(self, image_id: str) -> np.ndarray:
        return load_image(self._side(image_id, "noisy"), gray=self.options["gray"])

    def pair_files(self, image_id: str) -> tuple[str, str]:
        return str(self._side(image_id, "clean")), str(self._side(image_id, "noisy"))

    def provenance(self, image_id: str) -> dict[str, Any]:
        pairs = self._scan()
        if image_id not in pairs:
            raise DatasetError(f"dataset {self.name!r} ({self.options['path']}) has no pair {image_id!r}")
        out: dict[str, Any] = {"dataset": self.name, "image_id": image_id, "license": self.license}
        for side, prefix in (("clean", ""), ("noisy", "noisy_")):
            files = pairs[image_id][side]
            if len(files) == 1:
                out[f"{prefix}path"] = str(files[0])
                out[f"{prefix}sha256"] = sha256_file(files[0])
        return out


class Nam(Pairs):
    name = "nam"
    description = ("Nam et al. (CVPR 2016) cross-channel real-noise pairs from a local folder: "
                   "<camera>_iso<N>_<k>_real.* + _mean.*")
    license = "research use; cite Nam, Hwang, Matsushita, Kim, CVPR 2016 (no licence file in the distribution)"
    color = True

    def groups(self, image_id: str) -> dict[str, str]:
        m = NAM_ID.match(image_id)
        return {"camera": m["camera"], "iso": m["iso"]} if m else {}


# ----------------------------------------------------------------------------------------------- sidd

SIDD_FILES = {"noisy": "ValidationNoisyBlocksSrgb", "clean": "ValidationGtBlocksSrgb"}


def read_mat(path: Path, key: str) -> np.ndarray:
    """Array ``key`` of a MATLAB file: v5 with scipy, v7.3 (HDF5) with h5py (transposed back to MATLAB order).
    A missing key is a one-line DatasetError naming the file and the keys it has."""
    import scipy.io

    try:
        keys = [entry[0] for entry in scipy.io.whosmat(str(path))]
        if key in keys:
            return np.asarray(scipy.io.loadmat(str(path), variable_names=[key])[key])
    except NotImplementedError:  # MATLAB v7.3 = HDF5
        try:
            import h5py
        except ImportError:
            raise DatasetError(f"{path}: a MATLAB v7.3 (HDF5) file; install h5py to read it") from None
        with h5py.File(path, "r") as f:
            if key in f:
                return np.asarray(f[key]).transpose()
            keys = list(f.keys())
    except (ValueError, OSError, TypeError) as exc:
        raise DatasetError(f"{path}: not a readable MATLAB file ({exc}); pass the SIDD .mat files as "
                           "published") from None
    raise DatasetError(f"{path}: no key {key!r} (found: {', '.join(keys) or 'none'}); expected the SIDD sRGB "
                       f"validation file with key {key!r}")


class SIDD(Dataset):
    name = "sidd"
    description = "SIDD sRGB validation blocks (1280 pairs of 256x256 RGB) from a local folder of the two .mat files"
    license = "SIDD terms: research use; cite Abdelhamed, Lin, Brown, CVPR 2018"
    color = True
    paired = True
    defaults: ClassVar[dict[str, Any]] = {"path": None}
    positional_option: ClassVar[str] = "path"
    label_option: ClassVar[str] = "path"

    def __init__(self, **options: Any):
        owner = f"dataset {self.name!r}"
        opts = check_params(owner, options, self.defaults)
        opts["path"] = _required_path(owner, opts["path"], "sidd:/path/to/folder/with/the/mat/files")
        super().__init__(**opts)
        self._arrays: dict[str, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}  # workers read the files themselves

    def _file(self, side: str) -> Path:
        return Path(self.options["path"]) / f"{SIDD_FILES[side]}.mat"

    def _load(self) -> dict[str, np.ndarray]:
        if self._arrays is not None:
            return self._arrays
        folder = Path(self.options["path"])
        if not folder.is_dir():
            raise DatasetError(f"dataset 'sidd': {folder} is not a folder; pass the folder holding "
                               f"{SIDD_FILES['noisy']}.mat and {SIDD_FILES['clean']}.mat")
        arrays = {}
        for side, key in SIDD_FILES.items():
            path = self._file(side)
            if not path.is_file():
                raise DatasetError(f"dataset 'sidd': {path} is missing; put {key}.mat (SIDD sRGB validation "
                                   f"blocks) in {folder}")
            a = read_mat(path, key)
            if a.ndim != 5 or a.shape[-1] != 3 or a.dtype != np.uint8:
                raise DatasetError(f"{path}: {key} is {a.dtype} of shape {a.shape}; expected uint8 of shape "
                                   "images x blocks x H x W x 3 (40 x 32 x 256 x 256 x 3 as published)")
            arrays[side] = a
        if arrays["noisy"].shape != arrays["clean"].shape:
            raise DatasetError(f"dataset 'sidd': {self._file('noisy')} holds {arrays['noisy'].shape} but "
                               f"{self._file('clean')} holds {arrays['clean'].shape}; the two files must match "
                               "block for block")
        self._arrays = arrays
        return arrays

    def ids(self) -> list[str]:
        n, b = self._load()["noisy"].shape[:2]
        return [f"{i + 1:02d}_{j + 1:02d}" for i in range(n) for j in range(b)]

    def _index(self, image_id: str) -> tuple[int, int]:
        n, b = self._load()["noisy"].shape[:2]
        m = re.fullmatch(r"(\d+)_(\d+)", image_id)
        if not m or not (1 <= int(m[1]) <= n and 1 <= int(m[2]) <= b):
            raise DatasetError(f"dataset 'sidd' has no block {image_id!r}; ids run 01_01 ... {n:02d}_{b:02d}")
        return int(m[1]) - 1, int(m[2]) - 1

    def _block(self, image_id: str, side: str) -> np.ndarray:
        i, j = self._index(image_id)
        return to_float(np.ascontiguousarray(self._load()[side][i, j]), source=f"{self._file(side)}[{i}, {j}]")

    def load(self, image_id: str) -> np.ndarray:
        return self._block(image_id, "clean")

    def noisy(self, image_id: str) -> np.ndarray:
        return self._block(image_id, "noisy")

    def pair_files(self, image_id: str) -> tuple[str, str]:
        i, j = self._index(image_id)
        return f"{self._file('clean')}[{i}, {j}]", f"{self._file('noisy')}[{i}, {j}]"

    def provenance(self, image_id: str) -> dict[str, Any]:
        i, j = self._index(image_id)
        clean, noisy = _file_entry(self._file("clean")), _file_entry(self._file("noisy"))
        return {"dataset": self.name, "image_id": image_id, "block": [i, j], "path": clean["path"],
                "sha256": clean.get("sha256", ""), "noisy_path": noisy["path"], "noisy_sha256": noisy.get("sha256", ""),
                "license": self.license}

    def groups(self, image_id: str) -> dict[str, str]:
        return {"image": image_id.split("_", 1)[0]}


PAIRED_CLASSES = (PolyU, Pairs, Nam, SIDD)
