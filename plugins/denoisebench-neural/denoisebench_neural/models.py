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

``arch="unet"`` (round 4) is a multi-scale encoder–decoder in the DRUNet/FFDNet manner that sees far more of the
image at less compute per pixel::

    [x, m, x̂] ─ unshuffle(2) ─ conv ─ E1 ──────────────────────────────────────── + ─ D1 ─ conv ─ shuffle(2) ─ r
    (1/2 res, C1 ch)                  └ down ─ E2 ─────────────────────── + ─ D2 ─ up ┘
                                     (1/4, C2)   └ down ─ M1 ─ RNN ─ M2 ─ up ┘
                                                         (1/8, C3)

E/D/M are stacks of residual blocks (``blocks`` per encoder/decoder level, ``mid_blocks`` at the coarsest level),
down = 2×2 stride-2 conv, up = 2×2 stride-2 transposed conv, skips are additive (as in DRUNet). The recurrent
branch sits at the coarsest scale (1/8 resolution), where a bidirectional row scan then column scan over the
whole image is cheap: f + fuse([f, g]) with g = cols(rows(f)) and fuse a zero-initialised 1×1 conv, between the
two halves of the middle blocks. The CNN-only model is the same network without that branch (and the hybrid
starts as exactly that CNN for one seed). ``impulse_detect="context"`` replaces the value-only impulse map by
:func:`context_impulses`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 4  # flat arch: input sides are padded to a multiple of this (unshuffle 2 × RNN stride 2)
UNET_MULTIPLE = 8  # unet arch: unshuffle 2 × two stride-2 levels


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
    #: "flat" (rounds 1–3: one resolution, RNN at 1/4) | "unet" (round 4: 3-level encoder–decoder, RNN at 1/8)
    arch: str = "flat"
    width2: int = 64  # unet: channels at 1/4 resolution (``channels`` is the 1/2-resolution width)
    width3: int = 64  # unet: channels at 1/8 resolution (where the RNN branch runs)
    mid_blocks: int = 2  # unet: residual blocks at 1/8 resolution (the RNN branch between their two halves)
    #: "value": every pixel at exactly 0 or 1 is an impulse (rounds 1–3); "context": only a 0/1 pixel that disagrees
    #: with its neighbourhood (:func:`context_impulses`), so truly black/white regions are kept
    impulse_detect: str = "value"
    #: "context": the share of the 7×7 neighbourhood a 0/1 value must hold to count as genuine (see context_impulses)
    impulse_min_share: float = 0.4

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


CONTEXT_WINDOW = 7
CONTEXT_MIN_SHARE = 0.4


def context_impulses(x: torch.Tensor, window: int = CONTEXT_WINDOW, min_share: float = CONTEXT_MIN_SHARE) -> torch.Tensor:
    """Impulse map (1.0 / 0.0) of a (B, 1, H, W) image in [0, 1] from each extreme pixel's context.

    A pixel at exactly 0 (or 1) is genuine, not an impulse, when pixels of that same value are the plurality of its
    ``window``×``window`` neighbourhood (more than the non-extreme pixels and more than the opposite extreme) and
    hold at least ``min_share`` of it; otherwise it is an impulse. Inside a black region at 50 % salt-and-pepper
    about 75 % of a window is 0, so its zeros are kept and its salt flagged; in a textured region at 50 % about 25 %
    is 0, so pepper is flagged there, as it is by the value-only test. Counts are over the pixels inside the image.
    """
    lo, hi = (x <= 0).to(x.dtype), (x >= 1).to(x.dtype)
    ones = torch.ones(1, 1, window, window, dtype=x.dtype, device=x.device)
    # exact integer counts (small whole numbers in float): no rounding at ties
    c_lo = F.conv2d(lo, ones, padding=window // 2)
    c_hi = F.conv2d(hi, ones, padding=window // 2)
    n = F.conv2d(torch.ones_like(x[:1]), ones, padding=window // 2)
    c_mid = n - c_lo - c_hi
    need = min_share * n - 1e-3
    keep_lo = (c_lo > torch.maximum(c_mid, c_hi)) & (c_lo >= need)
    keep_hi = (c_hi > torch.maximum(c_mid, c_lo)) & (c_hi >= need)
    return lo * (~keep_lo).to(x.dtype) + hi * (~keep_hi).to(x.dtype)


def fill_impulses(x: torch.Tensor, detect: str = "value",
                  min_share: float = CONTEXT_MIN_SHARE) -> tuple[torch.Tensor, torch.Tensor]:
    """Impulse map of a (B, 1, H, W) image in [0, 1] and the image with flagged pixels filled by normalised
    convolution: the mean of unflagged neighbours in the smallest window (3, 5, 7) that has any; else kept.
    ``detect``: "value" flags every pixel at exactly 0 or 1; "context" uses :func:`context_impulses`."""
    if detect == "context":
        mask = context_impulses(x, min_share=min_share)
    else:
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


def _blocks(c: int, n: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(c) for _ in range(n)])


class CoarseRNN(nn.Module):
    """Recurrent branch at the coarsest scale: bidirectional row scan, then bidirectional column scan of its output,
    over the whole (B, C, H, W) map (no downsampling); returns (B, 2·hidden, H, W)."""

    def __init__(self, cin: int, hidden: int, cell: str):
        super().__init__()
        self.rows = BiScan(cin, hidden, cell)
        self.cols = BiScan(2 * hidden, hidden, cell)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        z = self.rows(f)  # along W
        return self.cols(z.transpose(2, 3)).transpose(2, 3)  # along H


class UNet(nn.Module):
    """The round-4 trunk (see the module docstring): (B, cin, H/2, W/2) -> (B, 4, H/2, W/2) residual, H, W % 8 == 0."""

    def __init__(self, cfg: ModelConfig, cin: int):
        super().__init__()
        c1, c2, c3, n = cfg.channels, cfg.width2, cfg.width3, cfg.blocks
        self.inp = _conv(cin, c1)
        self.enc1, self.down1 = _blocks(c1, n), nn.Conv2d(c1, c2, 2, stride=2)
        self.enc2, self.down2 = _blocks(c2, n), nn.Conv2d(c2, c3, 2, stride=2)
        half = (cfg.mid_blocks + 1) // 2
        self.mid1, self.mid2 = _blocks(c3, half), _blocks(c3, cfg.mid_blocks - half)
        self.up2, self.dec2 = nn.ConvTranspose2d(c3, c2, 2, stride=2), _blocks(c2, n)
        self.up1, self.dec1 = nn.ConvTranspose2d(c2, c1, 2, stride=2), _blocks(c1, n)
        self.out = _conv(c1, 4)
        Denoiser._init(self)
        nn.init.normal_(self.out.weight, std=1e-3)  # output ≈ input at the start

    def forward(self, z: torch.Tensor, branch=None) -> torch.Tensor:
        """``branch``: applied to the coarsest features between the two halves of the middle blocks (the RNN)."""
        x1 = self.enc1(self.inp(z))
        x2 = self.enc2(self.down1(x1))
        x3 = self.mid1(self.down2(x2))
        if branch is not None:
            x3 = branch(x3)
        y = self.mid2(x3)
        y = self.dec2(self.up2(y) + x2)
        y = self.dec1(self.up1(y) + x1)
        return self.out(y)


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
        if cfg.arch not in ("flat", "unet") or cfg.impulse_detect not in ("value", "context"):
            raise ValueError(f"arch={cfg.arch!r}, impulse_detect={cfg.impulse_detect!r}: pass flat|unet and "
                             "value|context")
        self.cfg = cfg
        c = cfg.channels
        if cfg.arch == "unet":
            self.unet = UNet(cfg, 12 if cfg.impulse_mask else 4)
            self.rnn = self.fuse = None
            if cfg.kind == "hybrid":  # built after the trunk, so the trunk starts bit-identical to the CNN-only one
                self.rnn = CoarseRNN(cfg.width3, cfg.rnn_hidden, cfg.rnn_cell)
                self.fuse = nn.Conv2d(cfg.width3 + 2 * cfg.rnn_hidden, cfg.width3, 1)
                nn.init.zeros_(self.fuse.weight)
                nn.init.zeros_(self.fuse.bias)
            return
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

    @property
    def multiple(self) -> int:
        """The input grid: sides are padded to a multiple of this."""
        return UNET_MULTIPLE if self.cfg.arch == "unet" else MULTIPLE

    @property
    def tile_grid(self) -> int:
        """Tiles start on multiples of this (the encoder–decoder: its 8-px grid, so that a tile sees the same
        downsampling grid as a whole pass). 1 for the round-3 networks: their tiles are cut exactly as when their
        results were recorded (aligning them moves the shipped hybrid's BSD68 values by ~0.015 dB)."""
        return UNET_MULTIPLE if self.cfg.arch == "unet" else 1

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

    def _coarse_branch(self, f: torch.Tensor) -> torch.Tensor:
        return f + self.fuse(torch.cat([f, self.rnn(f)], dim=1))  # concatenation fusion (eq. 12), residual

    def _input(self, xp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(network input at half resolution, the image the residual is taken from)."""
        if not self.cfg.impulse_mask:
            return F.pixel_unshuffle(xp, 2), xp
        mask, filled = fill_impulses(xp, self.cfg.impulse_detect, self.cfg.impulse_min_share)
        z = torch.cat([xp, mask, filled], dim=1)
        return F.pixel_unshuffle(z, 2), filled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        mult = UNET_MULTIPLE if self.cfg.arch == "unet" else MULTIPLE
        ph, pw = (-h) % mult, (-w) % mult
        if ph or pw:  # reflect where the image is large enough for it, else replicate
            xp = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
        else:
            xp = x
        if self.cfg.arch == "unet":
            z, base = self._input(xp)
            branch = None if self.rnn is None else self._coarse_branch
            return (base - F.pixel_shuffle(self.unet(z, branch), 2))[..., :h, :w]
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
