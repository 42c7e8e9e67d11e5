"""LPIPS v0.1 with the AlexNet trunk in plain torch (no torchvision, no lpips import).

Same computation as ``lpips.LPIPS(net='alex', version='0.1')`` in eval mode (Zhang et al., CVPR 2018):

1. scaling layer: x' = (x - shift) / scale, shift = (-.030, -.088, -.188), scale = (.458, .448, .450), on RGB
   inputs in [-1, 1];
2. torchvision AlexNet ``features`` up to the fifth ReLU, tapping relu1..relu5
   (conv11/4 p2 -> ReLU | maxpool3/2, conv5 p2 -> ReLU | maxpool3/2, conv3 p1 -> ReLU | conv3 p1 -> ReLU |
   conv3 p1 -> ReLU);
3. per tap: unit-normalise each pixel's channel vector (f / (||f||_2 + 1e-10)), squared difference,
   1×1 linear layer without bias (dropout is identity in eval mode), spatial mean;
4. sum over the five taps.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from denoisebench.builtin.lpips.weights import TRUNK

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10
#: (stride, padding, max-pool before this conv) for the five convolutions
CONV_SPEC = ((4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False), (1, 1, False))
MIN_SIZE = 31  # smallest side for which both max-pools have input (conv1 output >= 7)


class LPIPSAlex(torch.nn.Module):
    """The network with fixed weights; ``forward(x0, x1)`` takes N×3×H×W tensors in [-1, 1]."""

    def __init__(self, state: dict[str, np.ndarray]):
        super().__init__()
        for i, (name, *_rest) in enumerate(TRUNK):
            self.register_buffer(f"w{i}", torch.from_numpy(state[f"{name}.weight"].copy()))
            self.register_buffer(f"b{i}", torch.from_numpy(state[f"{name}.bias"].copy()))
            self.register_buffer(f"lin{i}", torch.from_numpy(state[f"lin{i}.model.1.weight"].copy()))
        self.register_buffer("shift", torch.tensor(SHIFT, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE, dtype=torch.float32).view(1, 3, 1, 1))
        self.eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised relu1..relu5 activations of a batch in [-1, 1].

        Feed channels-last tensors on CPU (oneDNN's fast path): ``nhwc.permute(0, 3, 1, 2)`` is one.
        """
        h = (x - self.shift) / self.scale
        taps = []
        for i, (stride, padding, pool) in enumerate(CONV_SPEC):
            if pool:
                h = F.max_pool2d(h, kernel_size=3, stride=2)
            h = F.conv2d(h, getattr(self, f"w{i}"), getattr(self, f"b{i}"), stride=stride, padding=padding).relu_()
            norm = torch.linalg.vector_norm(h, dim=1, keepdim=True).add_(EPS)
            taps.append(h / norm)
        return taps

    def distance(self, f0: list[torch.Tensor], f1: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS per batch item from two lists of normalised features (shape N).

        The 1×1 linear layer and the spatial mean are both linear, so the channel-weighted sum is taken after
        the mean: mean_hw(sum_c w_c d_c) = sum_c w_c mean_hw(d_c).
        """
        total = None
        for i, (a, b) in enumerate(zip(f0, f1)):
            d = (a - b).square_().mean(dim=(2, 3))
            d = d @ getattr(self, f"lin{i}").view(-1)
            total = d if total is None else total + d
        return total

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(x0), self.features(x1))
