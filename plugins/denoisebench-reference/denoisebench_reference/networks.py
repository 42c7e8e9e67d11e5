"""The PyTorch networks (imported only when a model is first used: this module imports torch).

- DnCNN (Zhang et al., TIP 2017): conv+ReLU, (conv+ReLU) x (depth-2), conv, batch norm merged into the convs
  (as in the official files); the network predicts the noise: output = input - network(input).
- FFDNet (Zhang et al., TIP 2018): pixel_unshuffle (x2), concatenate the noise-level map at half resolution,
  conv+ReLU x (depth-1), conv, pixel_shuffle; it predicts the clean image directly. Odd sizes are padded by
  repeating the last row/column and cropped back (the authors' Demo_AWGN_*.m and KAIR do the same).

All convolutions are 3x3 with zero padding 1, as MatConvNet's ``pad = 1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _body(cin: int, cout: int, features: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        a = cin if i == 0 else features
        b = cout if i == depth - 1 else features
        layers.append(nn.Conv2d(a, b, 3, padding=1, bias=True))
        if i < depth - 1:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DnCNN(nn.Module):
    def __init__(self, channels: int, features: int, depth: int):
        super().__init__()
        self.model = _body(channels, channels, features, depth)

    def forward(self, x: torch.Tensor, sigma_map: torch.Tensor | None = None) -> torch.Tensor:
        return x - self.model(x)


class FFDNet(nn.Module):
    def __init__(self, channels: int, features: int, depth: int):
        super().__init__()
        self.model = _body(4 * channels + 1, 4 * channels, features, depth)

    def forward(self, x: torch.Tensor, sigma_map: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (N, C, H, W); ``sigma_map`` (N, 1, H, W), the noise standard deviation per pixel in [0, 1] units."""
        if sigma_map is None:
            raise ValueError("FFDNet needs a noise-level map")
        h, w = x.shape[-2:]
        pb, pr = h % 2, w % 2
        if pb or pr:
            x = F.pad(x, (0, pr, 0, pb), mode="replicate")
            sigma_map = F.pad(sigma_map, (0, pr, 0, pb), mode="replicate")
        m = F.avg_pool2d(sigma_map, 2)  # a uniform map stays exactly uniform
        y = self.model(torch.cat([F.pixel_unshuffle(x, 2), m], dim=1))
        return F.pixel_shuffle(y, 2)[..., :h, :w]


def build(arch: dict, state: dict) -> nn.Module:
    """The network of ``arch`` with the (numpy or torch) tensors of ``state`` (strict: every key must match)."""
    cls = {"dncnn": DnCNN, "ffdnet": FFDNet}[arch["family"]]
    model = cls(int(arch["channels"]), int(arch["features"]), int(arch["depth"]))
    tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()}
    model.load_state_dict(tensors, strict=True)
    return model.eval()
