"""The two networks: a CNN-only denoiser and the hybrid CNN–RNN denoiser (the CNN plus a recurrent branch).

Both work at half resolution after a 2×2 pixel-unshuffle (as FFDNet does) and predict the noise residual::

    x ─ unshuffle(2) ─ conv ─ [res-block] × blocks ─ ReLU ───────── f ─┬──────────────── concat ─ head ─ shuffle(2) ─ r
                                                                      └─ RNN branch ─ g ─┘            (hybrid only)
    output = x − r

With ``impulse_mask`` (the shipped models) a parameter-free front end comes first: ``fill_impulses`` flags pixels at
exactly 0 or 1 and fills them from their unflagged neighbours (x̂); the network reads [x, m, x̂] and output = x̂ − r.

The RNN branch (ReNet-style) downsamples ``f`` by 2 (stride-2 conv, so it runs at 1/4 of the input resolution),
scans every row with a bidirectional LSTM (or GRU), then every column of the result with a second
bidirectional LSTM, so each position sees context from the whole image; a 1×1 conv + pixel-shuffle brings it
back to the resolution of ``f``. A res-block is conv3×3 ─ ReLU ─ conv3×3 plus the identity (a plain
stack of 10 conv+ReLU layers without normalisation stayed at the identity map for hundreds of steps here). The CNN-only model is the same network without the RNN branch (the head then
sees ``f`` alone), so comparing the two is an ablation of the recurrent branch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 4  # input sides are padded to a multiple of this (unshuffle 2 × RNN stride 2)


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "cnn"  # "cnn" | "hybrid"
    channels: int = 48  # CNN feature channels at half resolution
    blocks: int = 4  # residual blocks (2 convs each) in the CNN branch
    rnn_channels: int = 32  # input channels of the RNN branch (after its stride-2 conv)
    rnn_hidden: int = 32  # hidden size per direction
    rnn_cell: str = "lstm"  # "lstm" | "gru"
    rnn_init: str = "default"  # "zero": the RNN branch's output conv starts at 0, so the hybrid starts as the CNN
    #: "head": the branch reads the CNN's last features and is concatenated into the head's input;
    #: "middle": it reads the features after half the residual blocks, and f + fuse([f, g]) (a zero-initialised 1×1
    #: conv over the concatenation) feeds the remaining blocks, so convolutions refine the recurrent context
    rnn_position: str = "head"
    #: True: an impulse-aware front end. The impulse map m (1 where a pixel is exactly 0 or 1, as salt-and-pepper
    #: leaves it; also where other noise clipped) fills those pixels by normalised convolution (the mean of the
    #: unflagged pixels in the smallest 3×3 / 5×5 / 7×7 window that has one) giving x̂; the network reads x, m and
    #: x̂ (12 channels after unshuffle) and predicts the residual from x̂, so output = x̂ − r
    impulse_mask: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        fields = cls.__dataclass_fields__
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in d.items() if k in fields})


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a, self.b = _conv(c, c), _conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


class BiScan(nn.Module):
    """Bidirectional recurrent scan along the last axis of a (B, C, H, W) map -> (B, 2·hidden, H, W)."""

    def __init__(self, cin: int, hidden: int, cell: str):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(cin, hidden, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(b * h, w, c)
        out, _ = self.rnn(seq)
        return out.reshape(b, h, w, -1).permute(0, 3, 1, 2)


class RNNBranch(nn.Module):
    """ReNet-style branch: stride-2 conv, row scan, column scan, 1×1 conv + pixel-shuffle back up."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.down = nn.Conv2d(cfg.channels, cfg.rnn_channels, 3, stride=2, padding=1)
        self.rows = BiScan(cfg.rnn_channels, cfg.rnn_hidden, cfg.rnn_cell)
        self.cols = BiScan(2 * cfg.rnn_hidden, cfg.rnn_hidden, cfg.rnn_cell)
        self.up = nn.Conv2d(2 * cfg.rnn_hidden, 4 * cfg.rnn_channels, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        z = F.relu(self.down(f))
        z = self.rows(z)  # along W
        z = self.cols(z.transpose(2, 3)).transpose(2, 3)  # along H
        return F.pixel_shuffle(self.up(z), 2)


def fill_impulses(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Impulse map of a (B, 1, H, W) image in [0, 1] and the image with flagged pixels filled by normalised
    convolution: the mean of unflagged neighbours in the smallest window (3, 5, 7) that has any; else kept."""
    mask = ((x <= 0) | (x >= 1)).to(x.dtype)
    keep = 1 - mask
    filled, todo = x, mask
    for k in (3, 5, 7):
        ones = torch.ones(1, 1, k, k, dtype=x.dtype, device=x.device)
        num = F.conv2d(x * keep, ones, padding=k // 2)
        den = F.conv2d(keep, ones, padding=k // 2)
        use = todo * (den > 0).to(x.dtype)
        filled = filled + use * (num / den.clamp_min(1) - filled)
        todo = todo - use
    return mask, filled


class Denoiser(nn.Module):
    """Residual denoiser; ``cfg.kind`` selects CNN-only or hybrid CNN–RNN. Input/output (B, 1, H, W) in [0, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.kind not in ("cnn", "hybrid"):
            raise ValueError(f"model kind {cfg.kind!r}: pass 'cnn' or 'hybrid'")
        if cfg.rnn_init not in ("default", "zero") or cfg.rnn_cell not in ("lstm", "gru") \
                or cfg.rnn_position not in ("head", "middle"):
            raise ValueError(f"rnn_init={cfg.rnn_init!r}, rnn_cell={cfg.rnn_cell!r}, rnn_position={cfg.rnn_position!r}:"
                             " pass default|zero, lstm|gru and head|middle")
        self.cfg = cfg
        c = cfg.channels
        self.cnn = nn.Sequential(_conv(12 if cfg.impulse_mask else 4, c), *[ResBlock(c) for _ in range(cfg.blocks)], nn.ReLU())
        self._init(self.cnn)  # now, so the CNN branch starts identical in both models for one seed
        if cfg.kind == "hybrid" and cfg.rnn_position == "middle":
            # head first, then the branch: CNN and head start bit-identical to the CNN-only model's, and the
            # zero-initialised fusion makes the whole hybrid start as exactly that model
            self.head = nn.Sequential(_conv(c, c), nn.ReLU(inplace=True), _conv(c, 4))
            self._init(self.head)
            nn.init.normal_(self.head[-1].weight, std=1e-3)
            self.rnn = RNNBranch(cfg)
            self._init(self.rnn)
            self.fuse = nn.Conv2d(c + cfg.rnn_channels, c, 1)
            nn.init.zeros_(self.fuse.weight)
            nn.init.zeros_(self.fuse.bias)
            return
        self.rnn = RNNBranch(cfg) if cfg.kind == "hybrid" else None
        fused = c + (cfg.rnn_channels if self.rnn is not None else 0)
        self.head = nn.Sequential(_conv(fused, c), nn.ReLU(inplace=True), _conv(c, 4))
        self.fuse = None
        if self.rnn is not None:
            self._init(self.rnn)
            if cfg.rnn_init == "zero":
                nn.init.zeros_(self.rnn.up.weight)
        self._init(self.head)
        nn.init.normal_(self.head[-1].weight, std=1e-3)  # output ≈ input at the start

    @staticmethod
    def _init(part: nn.Module) -> None:
        """Kaiming-normal convs; each residual block's second conv at zero (the block starts as the identity)."""
        for m in part.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        for m in part.modules():
            if isinstance(m, ResBlock):
                nn.init.zeros_(m.b.weight)

    def _input(self, xp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(network input at half resolution, the image the residual is taken from)."""
        if not self.cfg.impulse_mask:
            return F.pixel_unshuffle(xp, 2), xp
        mask, filled = fill_impulses(xp)
        z = torch.cat([xp, mask, filled], dim=1)
        return F.pixel_unshuffle(z, 2), filled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % MULTIPLE, (-w) % MULTIPLE
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) else x
        if self.fuse is not None:  # RNN in the middle of the CNN
            (f, base), split = self._input(xp), 1 + self.cfg.blocks // 2
            for layer in self.cnn[:split]:
                f = layer(f)
            f = f + self.fuse(torch.cat([f, self.rnn(f)], dim=1))  # concatenation fusion (eq. 12), residual
            for layer in self.cnn[split:]:
                f = layer(f)
        else:
            f, base = self._input(xp)
            f = self.cnn(f)
        if self.rnn is not None and self.fuse is None:
            f = torch.cat([f, self.rnn(f)], dim=1)  # concatenation fusion (the paper's eq. 12)
        residual = F.pixel_shuffle(self.head(f), 2)
        return (base - residual)[..., :h, :w]


def build(cfg: ModelConfig | dict) -> Denoiser:
    if isinstance(cfg, dict):
        cfg = ModelConfig.from_dict(cfg)
    return Denoiser(cfg)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
