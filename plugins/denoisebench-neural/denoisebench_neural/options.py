"""The options of ``denoisebench train`` (what :func:`denoisebench_neural.train.train` takes), in a module of
their own: the command line reads their defaults at every start, without importing the training code."""

from __future__ import annotations

from dataclasses import dataclass

from denoisebench.errors import ConfigError


@dataclass
class TrainOptions:
    model: str = "hybrid"
    data: str | None = None
    out: str | None = None
    epochs: int = 50
    epoch_size: int = 3200  # patches per epoch
    patch_size: int = 64
    batch_size: int = 32
    lr: float = 1e-3
    schedule: str = "constant"  # constant (paper) | cosine (decay to 0 over all epochs)
    patience: int = 10  # early stopping: epochs without a better validation loss
    budget_minutes: float | None = None
    seed: int = 0
    resume: bool = False
    threads: int | None = None
    device: str = "auto"
    channels: int = 48
    blocks: int = 4
    val_crop: int = 96
    rnn_cell: str = "lstm"
    rnn_init: str = "default"
    rnn_position: str = "middle"  # the shipped hybrid's; "head" was the first design (see RESULTS.md)
    impulse_mask: bool = True  # the impulse-aware front end of the shipped models
    grad_clip: float = 0.0  # max global gradient norm; 0 = no clipping (the paper's recipe)
    arch: str = "flat"  # flat (rounds 1–3) | unet (round 4: 3-level encoder–decoder, RNN at the coarsest scale)
    width2: int = 64  # unet: channels at 1/4 resolution
    width3: int = 64  # unet: channels at 1/8 resolution
    mid_blocks: int = 2  # unet: residual blocks at 1/8 resolution
    rnn_hidden: int = 32  # hidden size per direction of the recurrent cells
    impulse_detect: str = "value"  # value (every 0/1 pixel) | context (a 0/1 pixel that disagrees with its 7×7)
    patch_sizes: str = ""  # e.g. "64,96,128,160": one side per step, batch scaled to patch_size²·batch_size pixels
    saturate: float = 0.0  # probability of a clipping contrast stretch of a clean patch (true 0/1 regions)
    impulse_min_share: float = 0.4  # context detector: a 0/1 pixel is an impulse when its value has < this share
    init: str = ""  # weights file to start from (fine-tuning): its tensors; the architecture options must match

    def sizes(self) -> tuple[int, ...]:
        try:
            return tuple(int(v) for v in self.patch_sizes.split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"--patch-sizes={self.patch_sizes!r} is invalid; pass comma-separated integers, "
                              "e.g. 64,96,128") from None

    def check(self) -> None:
        if self.model not in ("cnn", "hybrid"):
            raise ConfigError(f"model {self.model!r} is unknown; pass cnn or hybrid")
        for name in ("epochs", "epoch_size", "patch_size", "batch_size", "channels", "blocks", "val_crop"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')}={getattr(self, name)} is invalid; pass an integer >= 1")
        mult = 8 if self.arch == "unet" else 4
        for side in (self.patch_size, *self.sizes()):
            if side % mult:
                raise ConfigError(f"patch side {side} is invalid for --arch {self.arch}; pass multiples of {mult}, "
                                  "e.g. --patch-size 64")
        if self.arch not in ("flat", "unet"):
            raise ConfigError(f"--arch={self.arch!r} is invalid; pass flat or unet")
        if self.impulse_detect not in ("value", "context"):
            raise ConfigError(f"--impulse-detect={self.impulse_detect!r} is invalid; pass value or context")
        for name in ("width2", "width3", "rnn_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')}={getattr(self, name)} is invalid; pass an integer >= 1")
        if self.mid_blocks < 0:
            raise ConfigError(f"--mid-blocks={self.mid_blocks} is invalid; pass an integer >= 0")
        if not 0 < self.impulse_min_share <= 1:
            raise ConfigError(f"--impulse-min-share={self.impulse_min_share} is invalid; pass a share in (0, 1], "
                              "e.g. 0.6")
        if self.init and self.resume:
            raise ConfigError("--init and --resume: pass one (--resume continues OUT/checkpoint.pt, --init starts "
                              "a new run from a weights file)")
        if not 0 <= self.saturate <= 1:
            raise ConfigError(f"--saturate={self.saturate} is invalid; pass a probability in [0, 1]")
        if not self.lr > 0:
            raise ConfigError(f"--lr={self.lr} is invalid; pass a positive learning rate, e.g. 1e-3")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"--schedule={self.schedule!r} is invalid; pass constant or cosine")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"--device={self.device!r} is invalid; pass auto, cpu or cuda")
