"""Ship a training run: copy its best weights into the package, record their sha256, write the model card.

    python -m denoisebench_neural.ship runs/train-hybrid hybrid --command "denoisebench train hybrid ..."
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from denoisebench_neural import weights

ARCH = {
    "cnn": "2×2 pixel-unshuffle → conv3×3(4→C) → {blocks}× residual block [conv3×3 → ReLU → conv3×3, + identity] → ReLU → head: conv3×3(C→C)+ReLU, "
           "conv3×3(C→4) → pixel-shuffle → noise residual r; output = x − r. C = {channels}.",
    "hybrid": "as the CNN, plus a recurrent branch on the CNN features f (ReNet-style): stride-2 conv3×3(C→{rnn_channels}) "
              "+ReLU (1/4 resolution), bidirectional {cell} along every row (hidden {rnn_hidden}/direction), then a "
              "bidirectional {cell} along every column, conv1×1 → pixel-shuffle back to f's resolution "
              "({rnn_channels} ch); fusion by concatenation [f, g] (the paper's eq. 12) into the same head. C = {channels}.",
    "hybrid-middle": "as the CNN, plus a recurrent branch (ReNet-style) on the features f after half of the {blocks} "
                     "residual blocks: stride-2 conv3×3(C→{rnn_channels})+ReLU (1/4 resolution), bidirectional {cell} "
                     "along every row (hidden {rnn_hidden}/direction), then along every column, conv1×1 → "
                     "pixel-shuffle back ({rnn_channels} ch) = g; fusion by concatenation (the paper's eq. 12) as a "
                     "residual, f + conv1×1([f, g]) (the 1×1 conv zero-initialised, so training starts from the CNN "
                     "exactly), then the remaining residual blocks and the CNN's head. C = {channels}.",
    "unet": "Multi-scale encoder–decoder (DRUNet/FFDNet-style): 2×2 pixel-unshuffle → conv3×3(12→{channels}) → "
            "{blocks}× residual block [conv3×3 → ReLU → conv3×3, + identity] at 1/2 resolution ({channels} ch) → "
            "conv2×2 stride 2 → {blocks}× residual block at 1/4 ({width2} ch) → conv2×2 stride 2 → {mid_a}× residual "
            "block at 1/8 ({width3} ch){rnn} → {mid_b}× residual block → transposed conv2×2 stride 2 (+ skip) → "
            "{blocks}× residual block at 1/4 → transposed conv2×2 stride 2 (+ skip) → {blocks}× residual block at 1/2 → "
            "conv3×3({channels}→4) → pixel-shuffle → noise residual r; output = x̂ − r. Receptive field of the "
            "convolutions ±62 px{whole}.",
}
RNN_UNET = (" → recurrent branch over the whole 1/8-resolution map: bidirectional {cell} along every row (hidden "
            "{rnn_hidden}/direction), then a bidirectional {cell} along every column of its output = g; fusion by "
            "concatenation as a residual, f + conv1×1([f, g]) (zero-initialised, so training starts from the CNN-only "
            "model exactly)")
FRONT_CONTEXT = ("Impulse-aware front end (parameter-free), context-based: a pixel at exactly 0 (1) is flagged as an "
                 "impulse unless pixels of that value are the plurality (and ≥ 40 %) of its 7×7 neighbourhood, so "
                 "truly black or white regions are kept; flagged pixels are filled by normalised convolution (mean "
                 "of the unflagged pixels in the smallest 3×3/5×5/7×7 window with one) → x̂; the network reads "
                 "[x, m, x̂]. ")
FRONT = ("Impulse-aware front end (parameter-free): m = 1 where a pixel is exactly 0 or 1; flagged pixels are filled "
         "by normalised convolution (mean of the unflagged pixels in the smallest 3×3/5×5/7×7 window with one) → x̂; "
         "the network reads [x, m, x̂] (12 channels after the unshuffle) and the residual is taken from x̂: "
         "output = x̂ − r. ")


def _patches(o: dict) -> str:
    if o.get("patch_sizes"):
        return (f"Patch side drawn per step from {{{o['patch_sizes']}}}, batch scaled to the pixels of "
                f"{o['batch_size']} × {o['patch_size']}² (e.g. {o['batch_size']} patches of {o['patch_size']}×{o['patch_size']})")
    return f"Patches {o['patch_size']}×{o['patch_size']}, batch {o['batch_size']}"


INFERENCE_FIELDS = {"impulse_min_share": float}


def card(run: Path, name: str, command: str, entry: dict, overrides: dict | None = None) -> str:
    opts = json.loads((run / "options.json").read_text())
    summ = json.loads((run / "summary.json").read_text())
    hist = json.loads((run / "history.json").read_text())
    o = opts["options"]
    _, meta = weights.load_file(run / "best.safetensors")
    cfg = meta["config"]
    if cfg.get("arch") == "unet":
        half = (cfg["mid_blocks"] + 1) // 2
        rnn = RNN_UNET.format(cell=cfg["rnn_cell"].upper(), rnn_hidden=cfg["rnn_hidden"]) if cfg["kind"] == "hybrid" else ""
        whole = ("; the recurrent branch sees the whole image" if cfg["kind"] == "hybrid"
                 else "; the CNN-only ablation: the same network without the recurrent branch")
        arch = ARCH["unet"].format(rnn=rnn, whole=whole, mid_a=half, mid_b=cfg["mid_blocks"] - half, **cfg)
        arch = (FRONT_CONTEXT if cfg.get("impulse_detect") == "context" else FRONT) + arch
    else:
        kind = "hybrid-middle" if cfg.get("rnn_position") == "middle" else cfg["kind"]
        arch = ARCH[kind].format(cell=cfg["rnn_cell"].upper(), **cfg)
        if cfg.get("impulse_mask"):
            arch = FRONT + arch.replace("conv3×3(4→C)", "conv3×3(12→C)").replace("output = x − r", "output = x̂ − r")
    types = list(hist[0]["val_psnr_type"])
    lines = [
        f"# Model card: `{name}`",
        "",
        f"- **Architecture:** {arch}",
        f"- **Parameters:** {summ['params']:,} (weights file {entry['file']}, "
        f"{(run / 'best.safetensors').stat().st_size / 1e6:.2f} MB, sha256 `{entry['sha256']}`)",
        "- **Task:** blind gray denoising of all four noise types (gaussian, speckle, salt_pepper, mixed) at their "
        "standard levels with one model; colour images are denoised channel by channel.",
        f"- **Command:** `{command}`",
        *(["- **Shipped with inference-only config changes:** "
           + ", ".join(f"`{k}` {cfg.get(k, 'default')} → {v}" for k, v in overrides.items())
           + " (same parameters; selected on the held-out Train400 test split, see below)"] if overrides else []),
        f"- **Data:** Train400 (400 gray 180×180 images), seeded 70/15/15 split: {len(summ['split']['train'])} train / "
        f"{len(summ['split']['val'])} validation / {len(summ['split']['test'])} test images. "
        + _patches(o) + ", augmentation: scale {1, 0.9, 0.8, 0.7}, rot90, flip"
        + (f", with probability {o['saturate']} a clipping contrast stretch (true 0/1 regions)" if o.get("saturate") else "")
        + "; noise per patch: type uniform over the 4, then level uniform over its standard levels, from the "
        "registered noise models (clipped to [0, 1]).",
        f"- **Recipe:** Adam lr {o['lr']} ({o['schedule']} schedule), MSE loss, up to {o['epochs']} epochs of "
        f"{o['epoch_size']} patches ({summ['total_steps']} steps), early stopping patience {o['patience']} epochs on "
        f"validation loss{f', global gradient-norm clip {g}' if (g := o.get('grad_clip')) else ''}, wall-clock budget "
        f"{o['budget_minutes']} min, seed {o['seed']}, {o['threads']} torch thread, "
        f"device {o['device']}.",
        f"- **Trained:** {summ['steps']} optimizer steps in {summ['wall_s'] / 60:.1f} min wall time on the shared "
        f"2-core CPU ({summ['stopped']}); shipped weights are from step {summ['best_step']} (best validation loss).",
        "",
        "## Validation curve",
        "",
        f"Validation set: centre {o.get('val_crop', 96)}×{o.get('val_crop', 96)} crops of the validation images × "
        "every standard noise setting, fixed noise. "
        "PSNR in dB (mean over crops and levels of each type).",
        "",
        "| epoch | step | wall (min) | train loss | val loss | " + " | ".join(types) + " |",
        "|---:|---:|---:|---:|---:|" + "---:|" * len(types),
    ]
    for h in hist:
        lines.append(f"| {h['epoch']} | {h['step']} | {h['wall_s'] / 60:.1f} | {h['train_loss']:.5f} | "
                     f"{h['val_loss']:.5f} | " + " | ".join(f"{h['val_psnr_type'][t]:.2f}" for t in types) + " |")
    best, test = summ["best_val"], summ["test"]
    lines += ["", "## Final PSNR per noise setting (best checkpoint)", "",
              "| setting | validation PSNR (dB) | held-out test split PSNR (dB) |", "|---|---:|---:|"]
    for key in best["psnr"]:
        lines.append(f"| {key} | {best['psnr'][key]:.2f} | {test['psnr'][key]:.2f} |")
    for t in types:
        lines.append(f"| **{t}** (mean) | **{best['psnr_type'][t]:.2f}** | **{test['psnr_type'][t]:.2f}** |")
    lines += ["", "Numbers on full benchmark images (BSD68, Set12) come from `denoisebench run`; see the "
              "package README.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m denoisebench_neural.ship", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("name", choices=["cnn", "hybrid"])
    p.add_argument("--command", required=True, help="the training command line, for the card")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change an inference-only config field of the shipped copy, e.g. impulse_min_share=0.5 "
                        "(recorded in the card)")
    args = p.parse_args(argv)
    dest = weights.WEIGHTS_DIR / f"{args.name}.safetensors"
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in INFERENCE_FIELDS:
            p.error(f"--set {item}: {key!r} is not an inference-only field; pass one of {', '.join(INFERENCE_FIELDS)}")
        overrides[key] = INFERENCE_FIELDS[key](value)
    if overrides:
        weights.with_config(args.run / "best.safetensors", dest, **overrides)
    else:
        shutil.copyfile(args.run / "best.safetensors", dest)
    entry = weights.record(args.name, dest)
    (weights.WEIGHTS_DIR / f"{args.name}.md").write_text(card(args.run, args.name, args.command, entry, overrides))
    print(f"shipped {dest} sha256 {entry['sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
