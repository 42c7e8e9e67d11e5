"""PSNR / SSIM on a synthetic image with large truly black and white regions at salt-and-pepper 10 / 30 / 50 %
(issue 18): the neural models (shipped, or weights files) beside the switching median and the 3×3 median, all on the
same noisy images. The image is the one of ``tests/test_impulse_front_end.py`` (160×192, 38 % of it at 0 or 1).

    python plugins/denoisebench-neural/scripts/saturated.py [--model NAME=WEIGHTS ...] [--seeds 5]
"""

from __future__ import annotations

import argparse

import numpy as np


def saturated_image(h: int = 160, w: int = 192) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    img[16:96, 8:88] = 0.0
    img[100:156, 96:186] = 1.0
    img[24:54, 118:170] = 0.0
    return img.astype(np.float32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", action="append", default=[],
                   help="LABEL=KIND:WEIGHTS (kind cnn|hybrid; WEIGHTS '' for the shipped ones); repeatable")
    p.add_argument("--seeds", type=int, default=5, help="noise draws per level (default 5)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tile", type=int, help="tile side for every model (default: each model's own; 4096 = whole image)")
    args = p.parse_args(argv)
    import torch
    from denoisebench_neural import weights
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser
    from denoisebench_neural.models import fill_impulses
    from skimage.metrics import structural_similarity

    from denoisebench.builtin.classical import Median, SwitchingMedian
    from denoisebench.builtin.noise import SaltPepper
    from denoisebench.interfaces import NoiseSpec

    torch.set_num_threads(args.threads)
    models = args.model or ["cnn=cnn:", "hybrid=hybrid:"]
    dens = {}
    for spec in models:
        label, rest = spec.split("=", 1)
        kind, path = rest.split(":", 1)
        cls = CNNDenoiser if kind == "cnn" else HybridDenoiser
        params = {**cls.default_params(), "device": "cpu"}
        if path:
            params["weights"] = path
        model, _ = weights.load_file(path) if path else weights.load_shipped(kind)
        if args.tile:
            params["tile"] = args.tile
        elif model.cfg.arch == "unet":  # whole image (round 3 keeps its own default tiles)
            params["tile"] = 4096
        dens[label] = cls(**params)
    clean = saturated_image()
    rows = []
    for amount in (0.1, 0.3, 0.5):
        spec = NoiseSpec.make("salt_pepper", {"amount": amount})
        scores: dict[str, list[tuple[float, float]]] = {}
        for seed in range(args.seeds):
            noisy = SaltPepper(amount=amount).apply(clean, np.random.default_rng([seed, int(amount * 100)]))
            t = torch.from_numpy(noisy)[None, None]
            outs = {
                "switching_median": SwitchingMedian(**SwitchingMedian.default_params(spec)).denoise(noisy, noise=spec),
                "median 3×3": Median(size=3).denoise(noisy, noise=spec),
                "front end, value fill": fill_impulses(t, "value")[1][0, 0].numpy(),
                "front end, context fill": fill_impulses(t, "context")[1][0, 0].numpy(),
            }
            for label, den in dens.items():
                outs[label] = den.denoise(noisy, noise=spec)
            for label, out in outs.items():
                mse = float(np.mean((out.astype(np.float64) - clean) ** 2))
                ssim = structural_similarity(clean, out.astype(np.float32), data_range=1.0)
                scores.setdefault(label, []).append((10 * np.log10(1 / mse), ssim))
        rows.append((amount, {k: np.mean(v, axis=0) for k, v in scores.items()}))
    labels = list(rows[0][1])
    print(f"| method | {' | '.join(f's&p {int(a * 100)} % PSNR / SSIM' for a, _ in rows)} |")
    print("|---|" + "---:|" * len(rows))
    for label in labels:
        print(f"| {label} | " + " | ".join(f"{r[label][0]:.2f} / {r[label][1]:.4f}" for _, r in rows) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
