"""Tiled, batched inference with overlap and linear blending (no seams, bounded memory).

An image that fits in one ``tile`` goes through the network whole (the default tile, 1024 for the round-4 models,
holds every benchmark image: tiling only bounds memory on very large images).
A larger image is padded (reflect, at the bottom and right, as the network pads a whole image) to the model's tile grid
(``model.tile_grid``: 8 for the round-4 encoder–decoder, whose stride-2 levels must see the same pixel grid in a
tile as in a whole pass; 1, i.e. no change, for the round-3 networks), tile and overlap are rounded to that grid,
and the image is cut into tiles of side
``tile`` stepping by ``tile - overlap``; each tile's
output loses a margin of ``overlap // 4`` on its inner sides (where the network lacks context) and the rest of
the overlap is cross-faded with linear ramps, then normalised by the summed weights. Tiles of one image go
through the network ``batch`` at a time, so memory is bounded by ``batch × tile²`` whatever the image size.
On CUDA the forward pass runs under float16 autocast; on CPU it is float32 and deterministic.
"""

from __future__ import annotations

import numpy as np


def _starts(n: int, tile: int, step: int) -> list[int]:
    if n <= tile:
        return [0]
    starts = list(range(0, n - tile, step))
    return starts + [n - tile]


def _ramp(length: int, lo_inner: bool, hi_inner: bool, overlap: int) -> np.ndarray:
    """1-D weights: 0 on the discarded margins, linear ramps over the rest of the overlap, 1 in the middle."""
    w = np.ones(length, np.float32)
    margin = overlap // 4
    fade = max(1, overlap - 2 * margin)
    ramp = (np.arange(fade, dtype=np.float32) + 0.5) / fade
    if lo_inner:
        w[:margin] = 0
        w[margin:margin + fade] = ramp
    if hi_inner:
        w[length - margin:] = 0
        w[length - margin - fade:length - margin] = np.minimum(w[length - margin - fade:length - margin], ramp[::-1])
    return w


def run_model(model, images: np.ndarray, device, amp: bool = True) -> np.ndarray:
    """(N, H, W) float32 -> (N, H, W) float32 through ``model`` on ``device`` (one forward pass)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)[:, None]).to(device)
    with torch.inference_mode():
        if device.type == "cuda" and amp:
            with torch.autocast("cuda", dtype=torch.float16):
                y = model(x)
        else:
            y = model(x)
    return y.float().cpu().numpy()[:, 0]


def denoise_gray(model, image: np.ndarray, device, *, tile: int = 512, overlap: int = 128, batch: int = 4,
                 amp: bool = True) -> np.ndarray:
    """Denoise one H×W image, tiling when a side exceeds ``tile``. Output clipped to [0, 1]."""
    h, w = image.shape
    if h <= tile and w <= tile:
        return np.clip(run_model(model, image[None], device, amp)[0], 0, 1)
    if overlap < 4 or overlap >= tile:
        raise ValueError(f"overlap={overlap} is invalid for tile={tile}; pass 4 <= overlap < tile")
    mult = int(getattr(model, "tile_grid", 1))
    tile, overlap = max(mult, tile // mult * mult), -(-overlap // mult) * mult
    if overlap >= tile:
        raise ValueError(f"overlap={overlap} is invalid for tile={tile} on this model's {mult}-px grid; "
                         f"pass a smaller overlap or a larger tile")
    ph, pw = (-h) % mult, (-w) % mult
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "edge"
        padded = np.pad(image, ((0, ph), (0, pw)), mode=mode)
        return denoise_gray(model, padded, device, tile=tile, overlap=overlap, batch=batch, amp=amp)[:h, :w]
    th, tw = min(tile, h), min(tile, w)
    ys, xs = _starts(h, th, th - overlap), _starts(w, tw, tw - overlap)
    boxes = [(y, x) for y in ys for x in xs]
    acc = np.zeros((h, w), np.float32)
    wsum = np.zeros((h, w), np.float32)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        out = run_model(model, np.stack([image[y:y + th, x:x + tw] for y, x in chunk]), device, amp)
        for (y, x), o in zip(chunk, out):
            wy = _ramp(th, y > 0, y + th < h, overlap)
            wx = _ramp(tw, x > 0, x + tw < w, overlap)
            wt = wy[:, None] * wx[None, :]
            acc[y:y + th, x:x + tw] += o * wt
            wsum[y:y + th, x:x + tw] += wt
    return np.clip(acc / np.maximum(wsum, 1e-8), 0, 1)


def denoise_many(model, images: list[np.ndarray], device, *, tile: int = 512, overlap: int = 128,
                 batch: int = 4, amp: bool = True) -> list[np.ndarray]:
    """Denoise a list of H×W images; same-shaped images that fit in one tile share forward passes."""
    out: list[np.ndarray | None] = [None] * len(images)
    groups: dict[tuple, list[int]] = {}
    for i, im in enumerate(images):
        if im.shape[0] <= tile and im.shape[1] <= tile:
            groups.setdefault(im.shape, []).append(i)
        else:
            out[i] = denoise_gray(model, im, device, tile=tile, overlap=overlap, batch=batch, amp=amp)
    for idx in groups.values():
        for j in range(0, len(idx), batch):
            part = idx[j:j + batch]
            res = run_model(model, np.stack([images[k] for k in part]), device, amp)
            for k, r in zip(part, res):
                out[k] = np.clip(r, 0, 1)
    return out  # type: ignore[return-value]
