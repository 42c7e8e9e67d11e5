"""Weights as safetensors (never pickle), with the sha256 of every shipped file recorded in ``weights/MANIFEST.json``.

Loading a shipped model verifies the file against the manifest first; a missing or corrupt file raises
:class:`denoisebench.errors.UnavailableError` with one line naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from denoisebench.errors import UnavailableError

WEIGHTS_DIR = Path(__file__).with_name("weights")
MANIFEST = WEIGHTS_DIR / "MANIFEST.json"


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(path: Path = MANIFEST) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save(model, path: str | Path, metadata: dict | None = None) -> None:
    """Write ``model``'s state dict and its config (plus ``metadata``, JSON-encoded) as safetensors."""
    from safetensors.torch import save_file

    meta = {"config": json.dumps(model.cfg.to_dict())}
    meta.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=meta)


def load_file(path: str | Path, expected_sha256: str | None = None):
    """Build the model stored in a safetensors file; verify its sha256 when ``expected_sha256`` is given."""
    from safetensors import safe_open

    from denoisebench_neural.models import build

    path = Path(path)
    fix = "reinstall denoisebench-neural" if expected_sha256 else "pass a .safetensors file written by 'denoisebench train'"
    if not path.is_file():
        raise UnavailableError(f"{path}: weights file missing; {fix}")
    if expected_sha256 is not None and sha256(path) != expected_sha256:
        raise UnavailableError(f"{path}: weights file is corrupt (sha256 does not match the package manifest); "
                               f"reinstall denoisebench-neural")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        model = build(json.loads(meta["config"]))
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any decode failure is one line
        raise UnavailableError(f"{path}: not a valid denoisebench-neural weights file ({type(exc).__name__}); "
                               f"{fix}") from None
    model.eval()
    return model, {k: json.loads(v) for k, v in meta.items()}


def with_config(src: str | Path, dest: str | Path, **overrides) -> dict:
    """Copy a weights file with some inference-only config fields changed (e.g. ``impulse_min_share``; the
    parameters are the same tensors); the original metadata is kept, plus ``config_overrides`` (merged with those of
    earlier copies). Returns the new config."""
    from dataclasses import replace

    from denoisebench_neural.models import build

    model, meta = load_file(src)
    cfg = replace(model.cfg, **overrides)
    new = build(cfg)
    new.load_state_dict(model.state_dict())
    meta.pop("config", None)
    save(new, dest, {**meta, "config_overrides": {**meta.get("config_overrides", {}), **overrides}})
    return cfg.to_dict()


def load_shipped(name: str, weights_dir: Path = WEIGHTS_DIR):
    """Load the shipped model ``name`` ('cnn' or 'hybrid') after checking its sha256 against the manifest."""
    entry = manifest(weights_dir / "MANIFEST.json").get(name)
    if entry is None:
        raise UnavailableError(f"{weights_dir / 'MANIFEST.json'}: no weights recorded for {name!r}; "
                               f"reinstall denoisebench-neural")
    return load_file(weights_dir / entry["file"], entry["sha256"])


def record(name: str, file: str | Path, weights_dir: Path = WEIGHTS_DIR) -> dict:
    """Record (or update) ``name`` -> file + sha256 in the manifest (used when shipping new weights)."""
    file = Path(file)
    data = manifest(weights_dir / "MANIFEST.json")
    data[name] = {"file": file.name, "sha256": sha256(file)}
    (weights_dir / "MANIFEST.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data[name]
