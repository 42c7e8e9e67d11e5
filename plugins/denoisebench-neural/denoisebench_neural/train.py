"""Training loop (no UI): the paper's recipe by default — Adam, lr 1e-3, batch 32, up to 50 epochs, MSE, early
stopping on validation loss, 70/15/15 split, rotation/flip/scale augmentation, noise per patch drawn from the four
noise types at their standard levels.

Writes to ``out``: ``checkpoint.pt`` (model + optimizer + history, every epoch; resumable, loaded with
``weights_only=True``), ``best.safetensors`` (best validation loss so far), ``history.json`` and, at the end,
``summary.json`` (steps, wall time, validation and test PSNR per noise type). ``python -m denoisebench_neural.train``
runs the same code as ``denoisebench train``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from denoisebench.errors import ConfigError
from denoisebench_neural import data as D
from denoisebench_neural.options import TrainOptions


def pick_device(name: str):
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device=cuda but no CUDA device is available; pass --device cpu or auto")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def psnr(clean: np.ndarray, out: np.ndarray) -> np.ndarray:
    mse = ((clean - out) ** 2).reshape(len(clean), -1).mean(axis=1)
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def evaluate(model, samples, device, batch: int = 64) -> dict:
    """Mean MSE (loss) and mean PSNR per setting / per noise type over fixed (model, level, noisy, clean) samples."""
    import torch

    losses, per_setting = [], defaultdict(list)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(samples), batch):
            chunk = samples[i:i + batch]
            if len({s[2].shape for s in chunk}) > 1:  # odd sizes: one at a time
                groups = [[s] for s in chunk]
            else:
                groups = [chunk]
            for g in groups:
                noisy = torch.from_numpy(np.stack([s[2] for s in g])[:, None]).to(device)
                clean = np.stack([s[3] for s in g])
                out = model(noisy).float().cpu().numpy()[:, 0]
                losses += list(((out - clean) ** 2).reshape(len(g), -1).mean(axis=1))
                for s, p in zip(g, psnr(clean, np.clip(out, 0, 1))):
                    per_setting[f"{s[0]} {s[1]}"].append(float(p))
    model.train()
    by_type = defaultdict(list)
    for key, vals in per_setting.items():
        by_type[key.split()[0]] += vals
    return {"loss": float(np.mean(losses)),
            "psnr": {k: float(np.mean(v)) for k, v in per_setting.items()},
            "psnr_type": {k: float(np.mean(v)) for k, v in by_type.items()}}


def _lr(opts: TrainOptions, step: int, total: int) -> float:
    if opts.schedule == "cosine":
        return opts.lr * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    return opts.lr


def train(opts: TrainOptions, on_event: Callable[..., None] = lambda kind, **info: None) -> dict:
    """Train ``opts.model``; call ``on_event(kind, **info)`` for 'start', 'step', 'epoch' and 'done'."""
    import torch

    from denoisebench_neural import weights
    from denoisebench_neural.models import ModelConfig, build, param_count

    opts.check()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = pick_device(opts.device)
    out = Path(opts.out or f"runs/train-{opts.model}")
    out.mkdir(parents=True, exist_ok=True)
    files = D.list_images(opts.data or D.default_data_dir())
    parts = D.split(files, opts.seed)
    sampler = D.PatchSampler(D.load_gray(parts["train"]), opts.patch_size, opts.seed, opts.sizes(), opts.saturate)
    val = D.fixed_set(D.load_gray(parts["val"]), opts.val_crop, opts.seed)

    torch.manual_seed(opts.seed)
    model = build(ModelConfig(kind=opts.model, channels=opts.channels, blocks=opts.blocks,
                              rnn_cell=opts.rnn_cell, rnn_init=opts.rnn_init,
                              rnn_position=opts.rnn_position, impulse_mask=opts.impulse_mask,
                              rnn_hidden=opts.rnn_hidden, arch=opts.arch, width2=opts.width2, width3=opts.width3,
                              mid_blocks=opts.mid_blocks, impulse_detect=opts.impulse_detect,
                              impulse_min_share=opts.impulse_min_share)).to(device)
    if opts.init:
        start, _ = weights.load_file(opts.init)
        theirs, ours = ModelConfig.from_dict(start.cfg.to_dict()).to_dict(), model.cfg.to_dict()
        diff = sorted(k for k in ours if theirs.get(k) != ours[k] and k not in ("impulse_detect", "impulse_min_share"))
        if diff:
            raise ConfigError(f"--init {opts.init}: its architecture differs in "
                              + ", ".join(f"{k}={theirs.get(k)!r} (options: {ours[k]!r})" for k in diff)
                              + "; pass the options it was trained with")
        model.load_state_dict(start.state_dict())
    optim = torch.optim.Adam(model.parameters(), lr=opts.lr)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    spe = math.ceil(opts.epoch_size / opts.batch_size)
    total = opts.epochs * spe
    state = {"step": 0, "history": [], "best_loss": float("inf"), "bad_epochs": 0, "wall_s": 0.0}
    ckpt_path = out / "checkpoint.pt"
    if opts.resume:
        if not ckpt_path.is_file():
            raise ConfigError(f"{ckpt_path}: no checkpoint to resume; drop --resume or pass the --out of a run")
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ModelConfig.from_dict(ckpt["config"]).to_dict() != model.cfg.to_dict():  # fields added later: defaults
            raise ConfigError(f"{ckpt_path}: checkpoint is for model {ckpt['config']['kind']!r}; pass matching options")
        model.load_state_dict(ckpt["model"])
        optim.load_state_dict(ckpt["optim"])
        state = json.loads(ckpt["state"])

    def save_checkpoint() -> None:
        tmp = out / "checkpoint.pt.tmp"
        torch.save({"model": model.state_dict(), "optim": optim.state_dict(), "config": model.cfg.to_dict(),
                    "state": json.dumps(state)}, tmp)
        os.replace(tmp, ckpt_path)
        (out / "history.json").write_text(json.dumps(state["history"], indent=1))

    meta = {"options": asdict(opts), "params": param_count(model), "steps_per_epoch": spe, "total_steps": total}
    (out / "options.json").write_text(json.dumps(meta, indent=2))
    on_event("start", total=total, start=state["step"], params=meta["params"], device=str(device))
    t0 = time.monotonic() - state["wall_s"]
    budget_s = opts.budget_minutes * 60 if opts.budget_minutes else float("inf")
    stop = ""
    model.train()
    while state["step"] < total and not stop:
        epoch_losses = []
        for _ in range(spe - state["step"] % spe):
            noisy, clean = sampler.batch(state["step"], opts.batch_size)
            for g in optim.param_groups:
                g["lr"] = _lr(opts, state["step"], total)
            noisy_t, clean_t = torch.from_numpy(noisy).to(device), torch.from_numpy(clean).to(device)
            with torch.autocast(device.type, enabled=use_amp):
                loss = torch.nn.functional.mse_loss(model(noisy_t).float(), clean_t)
            optim.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if opts.grad_clip > 0:
                scaler.unscale_(optim)
                torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            scaler.step(optim)
            scaler.update()
            state["step"] += 1
            loss_value = loss.item()
            epoch_losses.append(loss_value)
            on_event("step", step=state["step"], total=total, loss=loss_value)
            if time.monotonic() - t0 > budget_s:
                stop = f"wall-clock budget of {opts.budget_minutes} min reached"
                break
        state["wall_s"] = time.monotonic() - t0
        res = evaluate(model, val, device)
        entry = {"epoch": math.ceil(state["step"] / spe), "step": state["step"], "wall_s": round(state["wall_s"], 1),
                 "train_loss": float(np.mean(epoch_losses)), "val_loss": res["loss"],
                 "val_psnr_type": res["psnr_type"], "lr": _lr(opts, state["step"], total)}
        state["history"].append(entry)
        if res["loss"] < state["best_loss"]:
            state["best_loss"], state["bad_epochs"] = res["loss"], 0
            state["best_step"], state["best_val"] = state["step"], res
            weights.save(model, out / "best.safetensors", {"step": state["step"], "val": res,
                                                            "options": asdict(opts)})
        else:
            state["bad_epochs"] += 1
            if state["bad_epochs"] >= opts.patience:
                stop = f"early stopping: no better validation loss for {opts.patience} epochs"
        weights.save(model, out / "snapshots" / f"step{state['step']:06d}.safetensors", {"step": state["step"]})
        save_checkpoint()
        on_event("epoch", **entry)
    stop = stop or "all epochs done"
    best, _ = weights.load_file(out / "best.safetensors")
    test = evaluate(best.to(device), D.fixed_set(D.load_gray(parts["test"]), opts.val_crop, opts.seed + 1), device)
    summary = {**meta, "stopped": stop, "steps": state["step"], "wall_s": round(state["wall_s"], 1),
               "best_step": state.get("best_step"), "best_val": state.get("best_val"), "test": test,
               "split": {k: [p.name for p in v] for k, v in parts.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    on_event("done", **summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    import argparse

    from denoisebench_neural.cli import add_train_arguments, run_train

    parser = argparse.ArgumentParser(prog="python -m denoisebench_neural.train", description=__doc__.split("\n")[0])
    add_train_arguments(parser)
    return run_train(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
