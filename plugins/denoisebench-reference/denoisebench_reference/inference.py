"""Running a network on one image, whole or in exact tiles (imports torch: loaded lazily by the denoisers).

An image with a side longer than ``tile`` is cut into cores of ``tile`` x ``tile`` pixels; each core goes through
the network with ``margin`` pixels of context on every side (cut at the image border) and only the core is
kept. A margin at least as wide as the network's receptive-field radius makes the tiled output equal the
whole-image output up to float rounding (tested): DnCNN's radius is its depth (17 or 20 pixels), FFDNet's is
``2 * depth + 1`` at full resolution. Tiles start at even offsets so FFDNet's 2x2 sub-sampling grid is the
whole image's. Memory is then bounded by ``(tile + 2 margin)^2`` times the feature count.
"""

from __future__ import annotations

import numpy as np
import torch


def margin_for(arch: dict) -> int:
    depth = int(arch["depth"])
    m = depth if arch["family"] == "dncnn" else 2 * depth + 2
    return m + (m % 2)


def _forward(model, x: np.ndarray, sigma_map: np.ndarray | None, device) -> np.ndarray:
    """(C, h, w) [+ (h, w) map] -> (C, h, w) through ``model``."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(device)
    mt = None
    if sigma_map is not None:
        mt = torch.from_numpy(np.ascontiguousarray(sigma_map, dtype=np.float32))[None, None].to(device)
    with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        y = model(xt, mt)  # full float32 on CUDA too (no TF32): these are reference numbers
    return y[0].float().cpu().numpy()


def run(model, arch: dict, image: np.ndarray, sigma_map: np.ndarray | None, device, *, tile: int = 1024) -> np.ndarray:
    """Denoise an H x W x C (channels last) float32 image; ``sigma_map`` is H x W (FFDNet) or None."""
    x = np.transpose(image, (2, 0, 1))
    c, h, w = x.shape
    if h <= tile and w <= tile:
        return np.transpose(_forward(model, x, sigma_map, device), (1, 2, 0))
    tile += tile % 2
    margin = margin_for(arch)
    out = np.empty_like(x, dtype=np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(y0 - margin, 0), max(x0 - margin, 0)
            yb, xb = min(y1 + margin, h), min(x1 + margin, w)
            m = None if sigma_map is None else sigma_map[ya:yb, xa:xb]
            part = _forward(model, x[:, ya:yb, xa:xb], m, device)
            out[:, y0:y1, x0:x1] = part[:, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return np.transpose(out, (1, 2, 0))
