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

    def taps(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """relu1..relu5 activations of a batch in [-1, 1], each with its per-pixel channel norm (+eps).

        Feed channels-last tensors on CPU (oneDNN's fast path): ``nhwc.permute(0, 3, 1, 2)`` is one.
        """
        h = (x - self.shift) / self.scale
        out = []
        for i, (stride, padding, pool) in enumerate(CONV_SPEC):
            if pool:
                h = F.max_pool2d(h, kernel_size=3, stride=2)
            h = F.conv2d(h, getattr(self, f"w{i}"), getattr(self, f"b{i}"), stride=stride, padding=padding).relu_()
            out.append((h, torch.linalg.vector_norm(h, dim=1, keepdim=True).add_(EPS)))
        return out

    @staticmethod
    def normalise(taps: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        """Unit-normalised features f / (||f|| + eps), as the reference's ``normalize_tensor``."""
        return [h / norm for h, norm in taps]

    def distance(self, ref: list[torch.Tensor], est: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """LPIPS per batch item (shape N) from normalised reference features and estimate taps.

        Per layer: d = ref - h / norm in one pass (addcdiv); the 1×1 linear layer and the spatial mean are both
        linear, so the channel weighting comes after the mean: mean_hw(sum_c w_c d_c^2) = sum_c w_c mean_hw(d_c^2),
        with sum_hw(d_c^2) taken as the squared L2 norm over space.
        """
        total = None
        for i, (a, (h, norm)) in enumerate(zip(ref, est)):
            # contiguous: the reduction's summation order then does not depend on the inputs' memory layouts
            d = torch.addcdiv(a, h, norm, value=-1.0).contiguous()
            m = torch.linalg.vector_norm(d, dim=(2, 3)).square_() / (d.shape[2] * d.shape[3])
            # an elementwise product and a row sum, not a matmul: BLAS may sum in a batch-size-dependent order
            v = (m * getattr(self, f"lin{i}").view(1, -1)).sum(dim=1)
            total = v if total is None else total + v
        return total

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return self.distance(self.normalise(self.taps(x0)), self.taps(x1))
