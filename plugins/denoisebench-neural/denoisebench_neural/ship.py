"""Ship a training run: copy its best weights into the package, record their sha256, write the model card.

    python -m denoisebench_neural.ship runs/train-hybrid hybrid --command "denoisebench train hybrid ..."

Or re-ship the installed weights with inference-only config fields changed (the same tensors; the manifest's sha256
and the model card are updated, the card gets one line saying what changed and why):

    python -m denoisebench_neural.ship --reship hybrid --set impulse_detect=context --reason "measured: ..."
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from denoisebench.errors import UnavailableError
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
                 "impulse unless pixels of that value are the plurality (and ≥ {pct:g} %) of its 7×7 neighbourhood, so "
                 "truly black or white regions are kept; flagged pixels are filled by normalised convolution (mean "
                 "of the unflagged pixels in the smallest 3×3/5×5/7×7 window with one) → x̂; the network reads "
                 "[x, m, x̂]. ")
FRONT = ("Impulse-aware front end (parameter-free): m = 1 where a pixel is exactly 0 or 1; flagged pixels are filled "
         "by normalised convolution (mean of the unflagged pixels in the smallest 3×3/5×5/7×7 window with one) → x̂; "
         "the network reads [x, m, x̂] (12 channels after the unshuffle) and the residual is taken from x̂: "
         "output = x̂ − r. ")


def front(cfg: dict) -> str:
    """The card's sentence on the impulse front end of a model with config ``cfg`` (impulse_mask set)."""
    if cfg.get("impulse_detect") == "context":
        return FRONT_CONTEXT.format(pct=100 * cfg.get("impulse_min_share", 0.4))
    return FRONT


def _patches(o: dict) -> str:
    if o.get("patch_sizes"):
        return (f"Patch side drawn per step from {{{o['patch_sizes']}}}, batch scaled to the pixels of "
                f"{o['batch_size']} × {o['patch_size']}² (e.g. {o['batch_size']} patches of {o['patch_size']}×{o['patch_size']})")
    return f"Patches {o['patch_size']}×{o['patch_size']}, batch {o['batch_size']}"


def _detector(value: str) -> str:
    if value not in ("value", "context"):
        raise ValueError("pass value or context")
    return value


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = float("nan")
    if not 0 < share <= 1:
        raise ValueError("pass a number in (0, 1]")
    return share


#: config fields that change only what inference does with the same parameters (both are parameter-free parts of
#: the impulse front end), each with its parser
INFERENCE_FIELDS = {"impulse_min_share": _share, "impulse_detect": _detector}


def card(run: Path, name: str, command: str, entry: dict, overrides: dict | None = None) -> str:
    opts = json.loads((run / "options.json").read_text())
    summ = json.loads((run / "summary.json").read_text())
    hist = json.loads((run / "history.json").read_text())
    o = opts["options"]
    _, meta = weights.load_file(run / "best.safetensors")
    cfg = meta["config"]
    shipped = {**cfg, **(overrides or {})}  # the front end as the shipped copy runs it
    if cfg.get("arch") == "unet":
        half = (cfg["mid_blocks"] + 1) // 2
        rnn = RNN_UNET.format(cell=cfg["rnn_cell"].upper(), rnn_hidden=cfg["rnn_hidden"]) if cfg["kind"] == "hybrid" else ""
        whole = ("; the recurrent branch sees the whole image" if cfg["kind"] == "hybrid"
                 else "; the CNN-only ablation: the same network without the recurrent branch")
        arch = ARCH["unet"].format(rnn=rnn, whole=whole, mid_a=half, mid_b=cfg["mid_blocks"] - half, **cfg)
        arch = front(shipped) + arch
    else:
        kind = "hybrid-middle" if cfg.get("rnn_position") == "middle" else cfg["kind"]
        arch = ARCH[kind].format(cell=cfg["rnn_cell"].upper(), **cfg)
        if cfg.get("impulse_mask"):
            arch = front(shipped) + arch.replace("conv3×3(4→C)", "conv3×3(12→C)").replace("output = x − r", "output = x̂ − r")
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


CHANGE = "- **Inference-only config change, re-shipped with the same parameters"


def reship(name: str, overrides: dict, reason: str, weights_dir: Path = weights.WEIGHTS_DIR) -> dict:
    """Replace the installed weights ``name`` by a copy with inference-only config fields changed (the tensors are
    checked to be identical), record its sha256 in the manifest and amend the model card: the new sha256, the
    front-end sentence of its architecture line, and one line (after that one) saying what changed and why.
    Returns the new manifest entry."""
    import torch

    old = weights.manifest(weights_dir / "MANIFEST.json").get(name)
    if old is None:
        raise ValueError(f"{weights_dir / 'MANIFEST.json'}: no weights recorded for {name!r}; ship a run first")
    dest = weights_dir / old["file"]
    model, _ = weights.load_shipped(name, weights_dir)
    before = model.cfg.to_dict()
    tmp = dest.with_name(dest.stem + ".reship.safetensors")
    after = weights.with_config(dest, tmp, **overrides)
    new, _ = weights.load_file(tmp)
    a, b = model.state_dict(), new.state_dict()
    if a.keys() != b.keys() or not all(torch.equal(a[k], b[k]) for k in a):
        tmp.unlink()
        raise ValueError(f"{dest}: the re-shipped copy's tensors differ from the installed ones; nothing changed")
    os.chmod(tmp, dest.stat().st_mode)  # keep the installed file's mode (safetensors writes 0600)
    os.replace(tmp, dest)
    entry = weights.record(name, dest, weights_dir)
    card_path = weights_dir / f"{name}.md"
    text = card_path.read_text().replace(old["sha256"], entry["sha256"])
    if before.get("impulse_mask"):
        text = text.replace(front(before), front(after))
    changes = ", ".join(f"`{k}` {before[k]} → {after[k]}" for k in overrides)
    line = f"{CHANGE} (sha256 `{old['sha256'][:12]}` → `{entry['sha256'][:12]}`):** {changes}. {reason}"
    lines = text.split("\n")
    at = next((i for i, t in enumerate(lines) if t.startswith("- **Architecture:**")), 1)
    while at + 1 < len(lines) and lines[at + 1].startswith(CHANGE):  # earlier re-ships stay, in order
        at += 1
    lines.insert(at + 1, line)
    card_path.write_text("\n".join(lines))
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m denoisebench_neural.ship", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, nargs="?", help="the training run's directory (not with --reship)")
    p.add_argument("name", nargs="?", choices=["cnn", "hybrid"])
    p.add_argument("--command", help="the training command line, for the card")
    p.add_argument("--reship", choices=["cnn", "hybrid"],
                   help="re-ship the installed weights of this model with the --set changes (no run directory)")
    p.add_argument("--reason", help="with --reship: why, with the measurement (goes into the model card)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change an inference-only config field of the shipped copy, e.g. impulse_min_share=0.5 "
                        "(recorded in the card)")
    args = p.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in INFERENCE_FIELDS:
            p.error(f"--set {item}: {key!r} is not an inference-only field; pass one of {', '.join(INFERENCE_FIELDS)}")
        try:
            overrides[key] = INFERENCE_FIELDS[key](value)
        except ValueError as exc:
            p.error(f"--set {item}: {value!r} is invalid for {key}; {exc}")
    if args.reship:
        if args.run or args.name or args.command:
            p.error("--reship NAME takes no run directory, name or --command; pass only --set and --reason")
        if not overrides or not args.reason:
            p.error(f"--reship {args.reship}: pass at least one --set FIELD=VALUE and --reason \"...\"")
        try:
            entry = reship(args.reship, overrides, args.reason)
        except (ValueError, UnavailableError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"re-shipped {weights.WEIGHTS_DIR / entry['file']} sha256 {entry['sha256']}")
        return 0
    if args.run is None or args.name is None or not args.command:
        p.error("pass RUN NAME --command \"...\" (or --reship NAME --set ... --reason \"...\")")
    dest = weights.WEIGHTS_DIR / f"{args.name}.safetensors"
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
