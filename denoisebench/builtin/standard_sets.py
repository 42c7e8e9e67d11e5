"""Standard test sets (Set12, BSD68, CBSD68, Kodak24, McMaster, Urban100, Train400): locate, download, verify.

Every file is checked against the sha256 in ``denoisebench/data/standard_sets.sha256`` (a verbatim copy of
``shared/datasets/all-sets.sha256``; provenance of every set is in ``shared/datasets/MANIFEST.md`` and
``docs/datasets.md``). Where the files come from, in this order:

1. option ``root`` (``set12:root=/data``): ``<root>/<folder>/<files>``; an explicit root that lacks the set is
   an error.
2. env ``DENOISEBENCH_DATA``: the same layout; a set missing there falls through to 3.
3. the download cache, ``$DENOISEBENCH_CACHE`` or ``pooch.os_cache("denoisebench")``, same layout; missing
   files are downloaded with pooch from URLs pinned to a git commit and verified before they are kept.

Local files are hashed once per process (memoized on path, size and mtime); ``verify=False`` skips that for
``root``/``DENOISEBENCH_DATA`` copies only. Downloads are always verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from denoisebench.errors import ChecksumError, DatasetError

DATA_ENV = "DENOISEBENCH_DATA"
CACHE_ENV = "DENOISEBENCH_CACHE"
HASH_FILE = "standard_sets.sha256"
DOWNLOAD_THREADS = 4
log = logging.getLogger("denoisebench.datasets")

_FFDNET = "https://raw.githubusercontent.com/cszn/FFDNet/e787f46df2f374ff3591186706229cb9a0591fea/testsets/"
_DNCNN = "https://raw.githubusercontent.com/cszn/DnCNN/e93b27812d3ff523a3a79d19e5e50d233d7a8d0a/"
_BSD_TERMS = ("Berkeley Segmentation Dataset (Corel images): UC Berkeley distributes them for non-commercial "
              "research and educational use only; no open licence")
_KODAK_TERMS = ("Kodak Lossless True Color Image Suite (PhotoCD PCD0992): described as released by Eastman Kodak "
                "for unrestricted usage; no formal licence file")


@dataclass(frozen=True)
class SetInfo:
    """One standard set: ``folder`` is its directory name (in the hash file, the data root and the cache)."""

    name: str
    folder: str
    base_url: str
    color: bool
    description: str
    license: str


SETS: dict[str, SetInfo] = {s.name: s for s in [
    SetInfo("set12", "set12", _FFDNET + "Set12/", False,
            "Set12: 12 classic gray test images (DnCNN), 256x256 and 512x512",
            "no licence stated by the distributor; mixed provenance (several from USC-SIPI); "
            "08 is 'Lena', a cropped Playboy photograph whose use is discouraged"),
    SetInfo("bsd68", "bsd68", _FFDNET + "BSD68/", False,
            "BSD68: 68 gray BSDS300 test images selected by Roth & Black, 481x321", _BSD_TERMS),
    SetInfo("cbsd68", "cbsd68", _FFDNET + "CBSD68/", True,
            "CBSD68: the colour originals of BSD68, 481x321", _BSD_TERMS),
    SetInfo("kodak24", "kodak24", "https://raw.githubusercontent.com/Zelex/images/"
            "0b8a89db599a384124fb991b85d40cfd63c73d58/kodak/", True,
            "Kodak24: 24 colour photographs, 768x512 (full size)", _KODAK_TERMS),
    SetInfo("kodak24_crop500", "kodak24_crop500", _FFDNET + "Kodak24/", True,
            "Kodak24 500x500 centre crops, as used by FFDNet-era papers", _KODAK_TERMS),
    SetInfo("mcmaster", "mcmaster", _FFDNET + "McMaster/", True,
            "McMaster: 18 colour 500x500 crops (Zhang et al. 2011), TIFF", "none stated; research use"),
    SetInfo("urban100", "urban100_gray", "https://raw.githubusercontent.com/majedelhelou/denoising_datasets/"
            "58234876fef6f1b56306705c78dfd40cdb837b86/Urban100/", False,
            "Urban100 (gray version: BT.601 of the colour set, +-1 level): 100 urban scenes, up to 1024 px",
            "none stated; research use (Flickr images collected by Huang et al., CVPR 2015)"),
    SetInfo("train400", "train400", _DNCNN + "TrainingCodes/DnCNN_TrainingCodes_v1.0/data/Train400/", False,
            "Train400: the 400 gray 180x180 BSD crops used to train TNRD and DnCNN", _BSD_TERMS),
]}


def natural_key(text: str) -> list:
    """Sort key that orders ``2.tif`` before ``10.tif``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


@lru_cache(maxsize=1)
def load_hashes() -> dict[str, dict[str, str]]:
    """``{folder: {file name: sha256}}`` from the packaged hash file, files in plain file-name order (so the
    n-th cbsd68 image is the colour original of bsd68's test0nn, as MANIFEST.md maps them)."""
    text = (importlib.resources.files("denoisebench") / "data" / HASH_FILE).read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        digest, rel = line.split(maxsplit=1)
        folder, _, fname = rel.strip().lstrip("*").partition("/")
        out.setdefault(folder, {})[fname] = digest.lower()
    return {k: dict(sorted(v.items())) for k, v in out.items()}


_HASH_MEMO: dict[tuple[str, int, int], str] = {}
_MEMO_LOCK = threading.Lock()


def sha256_file(path: str | Path) -> str:
    """sha256 hex digest of a file, memoized on (path, size, mtime) for this process."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _MEMO_LOCK:
        if key in _HASH_MEMO:
            return _HASH_MEMO[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with _MEMO_LOCK:
        _HASH_MEMO[key] = digest
    return digest


def verify_file(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: sha256 mismatch, expected {expected}, got {actual}; the file is corrupted or not the "
            f"published one: replace it with the original (or delete it from the download cache to fetch it again)"
        )


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import pooch

    return Path(pooch.os_cache("denoisebench"))


_quiet_depth = 0
_saved_level = logging.NOTSET


@contextlib.contextmanager
def _quiet_pooch():
    """Silence pooch's per-file INFO lines while downloads run (re-entrant, thread-safe)."""
    global _quiet_depth, _saved_level
    import pooch

    logger = pooch.get_logger()
    with _MEMO_LOCK:
        if _quiet_depth == 0:
            _saved_level = logger.level
            logger.setLevel(logging.WARNING)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _MEMO_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logger.setLevel(_saved_level)


def download(url: str, dest: Path, expected: str, info: SetInfo) -> Path:
    """Fetch ``url`` to ``dest`` with pooch, verifying sha256 before the file is kept."""
    import pooch

    hint = (f"to use a local copy, put the {info.name} files in <dir>/{info.folder}/ and set "
            f"{DATA_ENV}=<dir> (or pass {info.name}:root=<dir>)")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=dest.name, path=str(dest.parent),
                       downloader=pooch.HTTPDownloader(progressbar=False, timeout=60))
    except ValueError as exc:
        m = re.search(r"expected (?:sha256:)?(\w+) but got (\w+)", str(exc))
        if m:
            raise ChecksumError(
                f"{url}: downloaded file's sha256 is {m.group(2)}, expected {m.group(1)}; the download was "
                f"discarded; {hint}") from None
        raise DatasetError(f"download failed: {url}: {_short(exc)}; {hint}") from None
    except Exception as exc:
        raise DatasetError(f"download failed: {url}: {_short(exc)}; {hint}") from None
    return dest


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class SetFiles:
    """Where one standard set's files live, resolved lazily, and fetching/verifying them."""

    def __init__(self, info: SetInfo, *, root: str | None, verify: bool, download: bool, mirror: str | None):
        self.info, self.verify, self.allow_download, self.mirror = info, verify, download, mirror
        self.root, self.root_from = (root, "root=") if root else (os.environ.get(DATA_ENV) or None, DATA_ENV)
        try:
            self.hashes = load_hashes()[info.folder]
        except KeyError:
            raise DatasetError(
                f"dataset {info.name!r}: no checksums for folder {info.folder!r} in {HASH_FILE}") from None
        self._dir: Path | None = None
        self._local = False
        self._ready: set[str] = set()

    def url(self, fname: str) -> str:
        if self.mirror:
            return f"{self.mirror.rstrip('/')}/{self.info.folder}/{fname}"
        return self.info.base_url + fname

    def locate(self) -> tuple[Path, bool]:
        """(directory, is_local). A root without the set is an error for ``root=``, falls through for the env."""
        if self._dir is None:
            if self.root:
                base = Path(self.root).expanduser()
                for sub in dict.fromkeys((self.info.folder, self.info.name)):
                    if (base / sub).is_dir():
                        self._dir, self._local = base / sub, True
                        break
                else:
                    if self.root_from == "root=":
                        raise DatasetError(
                            f"dataset {self.info.name!r}: no folder {base / self.info.folder}; put the "
                            f"{len(self.hashes)} files of {self.info.name} there, or drop root= to download them")
            if self._dir is None:
                self._dir, self._local = cache_root() / self.info.folder, False
        return self._dir, self._local

    def path(self, fname: str) -> Path:
        """The verified local path of one file (downloading it if it is not in the cache)."""
        folder, local = self.locate()
        dest = folder / fname
        if fname in self._ready:
            return dest
        expected = self.hashes[fname]
        if local:
            if not dest.is_file():
                raise DatasetError(
                    f"dataset {self.info.name!r}: {dest} is missing ({self.root_from}{self.root}); copy the "
                    f"complete set ({len(self.hashes)} files) there")
            if self.verify:
                verify_file(dest, expected)
        elif not (dest.is_file() and sha256_file(dest) == expected):
            if not self.allow_download:
                raise DatasetError(
                    f"dataset {self.info.name!r}: {dest} is not in the cache and download=false; set "
                    f"{DATA_ENV} to a folder holding {self.info.folder}/ or allow the download")
            with _quiet_pooch():
                download(self.url(fname), dest, expected, self.info)
        self._ready.add(fname)
        return dest

    def prepare(self) -> Path:
        """Make every file present and verified (downloads run in a few threads); return the folder."""
        folder, local = self.locate()
        todo = [f for f in self.hashes if f not in self._ready]
        if local or not todo:
            for fname in todo:
                self.path(fname)
            return folder
        missing = [f for f in todo if not ((folder / f).is_file() and sha256_file(folder / f) == self.hashes[f])]
        if missing and self.allow_download:
            log.info("downloading %d files of %s to %s", len(missing), self.info.name, folder)
        with _quiet_pooch(), ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
            futures = [pool.submit(self.path, f) for f in todo]
            try:
                for fut in futures:
                    fut.result()  # the first failure raises its one-line error
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        return folder
