"""``denoisebench train MODEL``: argument parsing and the progress display around :func:`train.train`."""

from __future__ import annotations

import argparse
import sys
import time

from denoisebench_neural.options import TrainOptions


def add_train_arguments(p) -> None:
    d = TrainOptions()
    p.add_argument("model", choices=["cnn", "hybrid"], help="which network to train")
    p.add_argument("--data", help="folder of clean training images (default: the train400 dataset: $DENOISEBENCH_DATA/train400, else downloaded to the cache; sha256-verified)")
    p.add_argument("--out", help="run folder for checkpoints and weights (default: runs/train-MODEL)")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"maximum epochs (default {d.epochs})")
    p.add_argument("--epoch-size", type=int, default=d.epoch_size, help=f"patches per epoch (default {d.epoch_size})")
    p.add_argument("--patch-size", type=int, default=d.patch_size, help=f"patch side (default {d.patch_size})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"(default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=d.schedule,
                   help="learning-rate schedule (default constant, the paper's)")
    p.add_argument("--patience", type=int, default=d.patience,
                   help=f"early stopping after this many epochs without a better validation loss (default {d.patience})")
    p.add_argument("--budget-minutes", type=float, default=None, help="stop after this wall-clock time")
    p.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=d.device)
    p.add_argument("--channels", type=int, default=d.channels, help=f"feature channels (default {d.channels})")
    p.add_argument("--blocks", type=int, default=d.blocks, help=f"residual blocks in the CNN (default {d.blocks})")
    p.add_argument("--rnn-cell", choices=["lstm", "gru"], default=d.rnn_cell, help="hybrid's recurrent cell")
    p.add_argument("--rnn-init", choices=["default", "zero"], default=d.rnn_init,
                   help="zero: the RNN branch's output conv starts at 0 (the hybrid starts as the CNN)")
    p.add_argument("--rnn-position", choices=["head", "middle"], default=d.rnn_position,
                   help="hybrid: where the recurrent branch sits (middle: after half the blocks, the default and "
                        "shipped; head: into the head, the first design)")
    p.add_argument("--impulse-mask", action=argparse.BooleanOptionalAction, default=d.impulse_mask,
                   help="impulse-aware front end: pixels at exactly 0 or 1 are flagged, filled from their neighbours, "
                        "and the network reads image, map and filled image (default: on, as shipped)")
    p.add_argument("--arch", choices=["flat", "unet"], default=d.arch,
                   help="flat: one resolution, RNN at 1/4 (rounds 1-3); unet: 3-level encoder-decoder with the RNN "
                        "over the whole coarsest (1/8) map (round 4)")
    p.add_argument("--width2", type=int, default=d.width2, help=f"unet: channels at 1/4 resolution (default {d.width2})")
    p.add_argument("--width3", type=int, default=d.width3, help=f"unet: channels at 1/8 resolution (default {d.width3})")
    p.add_argument("--mid-blocks", type=int, default=d.mid_blocks,
                   help=f"unet: residual blocks at 1/8 resolution (default {d.mid_blocks})")
    p.add_argument("--rnn-hidden", type=int, default=d.rnn_hidden, help=f"hidden size per direction (default {d.rnn_hidden})")
    p.add_argument("--impulse-detect", choices=["value", "context"], default=d.impulse_detect,
                   help="value: every pixel at exactly 0 or 1 is an impulse; context: only a 0/1 pixel that is a "
                        "minority in its 7x7 neighbourhood (truly black/white regions are kept)")
    p.add_argument("--impulse-min-share", type=float, default=d.impulse_min_share,
                   help=f"context detector: a 0/1 pixel is an impulse when pixels of its value are less than this "
                        f"share of its 7x7 window (default {d.impulse_min_share}; the shipped models use 0.6)")
    p.add_argument("--init", default=d.init, metavar="WEIGHTS",
                   help="start from this weights file's tensors (fine-tuning); the architecture options must match "
                        "it (the front end's --impulse-detect / --impulse-min-share may differ)")
    p.add_argument("--patch-sizes", default=d.patch_sizes,
                   help="comma-separated patch sides, one drawn per step, batch scaled to keep the pixels of "
                        "--patch-size x --batch-size (default: --patch-size only)")
    p.add_argument("--saturate", type=float, default=d.saturate,
                   help="probability of a clipping contrast stretch of a clean patch (default 0)")
    p.add_argument("--val-crop", type=int, default=d.val_crop,
                   help=f"side of the centre crop of each validation image (default {d.val_crop}; larger than the "
                        "images: whole images)")
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="max gradient norm (default 0: off)")
    p.add_argument("--log-every", type=int, default=25, help="steps between log lines when not on a terminal")


def options_from_args(args) -> TrainOptions:
    keys = TrainOptions.__dataclass_fields__
    return TrainOptions(**{k: getattr(args, k) for k in keys if hasattr(args, k)})


def run_train(args) -> int:
    from denoisebench_neural.train import train

    opts = options_from_args(args)
    opts.check()
    if sys.stdout.isatty():
        return _run_rich(opts)
    t0, every = time.monotonic(), max(1, args.log_every)
    window: list[float] = []

    def on_event(kind, **info):
        if kind == "start":
            print(f"train {opts.model}: {info['params']} parameters, {info['total']} steps, device {info['device']}, "
                  f"starting at step {info['start']}", flush=True)
        elif kind == "step":
            window.append(info["loss"])
            if info["step"] % every == 0:
                el = time.monotonic() - t0
                print(f"step {info['step']}/{info['total']} loss {sum(window) / len(window):.5f} "
                      f"elapsed {el / 60:.1f} min", flush=True)
                window.clear()
        elif kind == "epoch":
            types = " ".join(f"{k} {v:.2f}" for k, v in info["val_psnr_type"].items())
            print(f"epoch {info['epoch']} step {info['step']} val_loss {info['val_loss']:.6f} PSNR {types}", flush=True)
        elif kind == "done":
            print(f"done: {info['stopped']}; {info['steps']} steps in {info['wall_s'] / 60:.1f} min; "
                  f"best step {info['best_step']}", flush=True)

    train(opts, on_event)
    return 0


def _run_rich(opts: TrainOptions) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from denoisebench_neural.train import train

    console = Console()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(), console=console)
    task = None

    def on_event(kind, **info):
        nonlocal task
        if kind == "start":
            task = progress.add_task(f"train {opts.model}", total=info["total"], completed=info["start"], loss="-")
        elif kind == "step":
            progress.update(task, completed=info["step"], loss=f"{info['loss']:.5f}")
        elif kind == "epoch":
            types = " ".join(f"{k} {v:.2f}" for k, v in info["val_psnr_type"].items())
            progress.console.print(f"epoch {info['epoch']}: val_loss {info['val_loss']:.6f}  PSNR {types}")
        elif kind == "done":
            progress.console.print(f"done: {info['stopped']}; {info['steps']} steps in {info['wall_s'] / 60:.1f} min")

    with progress:
        train(opts, on_event)
    return 0
