"""The ``cnn`` and ``hybrid`` denoisers. torch and the weights load lazily, on the first ``denoise`` call.

Both are blind gray models: colour images are denoised channel by channel (``handles_color = False``, so the
harness splits channels). A missing or corrupt weights file raises UnavailableError (one line).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from denoisebench.errors import ParameterError, UnavailableError
from denoisebench.interfaces import Denoiser


class _Neural(Denoiser):
    model_name: ClassVar[str] = ""
    defaults = {"device": "auto", "tile": 512, "overlap": 128, "batch": 4, "weights": ""}
    handles_color = False
    needs_noise_level = False
    requires = ("torch",)
    deterministic = True

    @classmethod
    def default_params(cls, noise=None):
        """Record which shipped weights a cell used (``shipped:<sha256 prefix>``), so that new weights make new
        cells instead of a resumed run silently keeping values computed with the old ones."""
        from denoisebench_neural.weights import manifest

        entry = manifest().get(cls.model_name, {})
        return {**cls.defaults, "weights": f"shipped:{entry['sha256'][:12]}" if entry.get("sha256") else ""}

    def validate(self, params):
        if params["device"] not in ("auto", "cpu", "cuda"):
            raise ParameterError(f"denoiser {self.name!r}: device={params['device']!r} is invalid; pass auto, cpu or cuda")
        for key in ("tile", "batch"):
            if not isinstance(params[key], int) or params[key] < 1:
                raise ParameterError(f"denoiser {self.name!r}: {key}={params[key]!r} is invalid; pass an integer >= 1")
        if not isinstance(params["overlap"], int) or not 4 <= params["overlap"] < params["tile"]:
            raise ParameterError(f"denoiser {self.name!r}: overlap={params['overlap']!r} is invalid; "
                                 f"pass an integer in [4, tile)")
        if not isinstance(params["weights"], str):
            raise ParameterError(f"denoiser {self.name!r}: weights={params['weights']!r} is invalid; pass the path "
                                 f"of a weights file, or '' for the shipped weights")
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                import torch
            except ImportError:
                raise UnavailableError(f"denoiser {self.name!r} needs torch; pip install torch==2.13.0") from None
            from denoisebench_neural import weights
            from denoisebench_neural.train import pick_device

            wanted = self.params["weights"]
            if wanted.startswith("shipped:"):
                have = weights.manifest().get(self.model_name, {}).get("sha256", "")
                if not have.startswith(wanted.split(":", 1)[1]):
                    raise UnavailableError(
                        f"{self.name}: this run used shipped weights {wanted} but the installed plugin ships "
                        f"shipped:{have[:12]}; start a new run (another --output) to use them")
                model, _ = weights.load_shipped(self.model_name)
            elif wanted:
                model, _ = weights.load_file(wanted)
            else:
                model, _ = weights.load_shipped(self.model_name)
            if model.cfg.kind != self.model_name:
                raise UnavailableError(f"{self.params['weights']}: holds a {model.cfg.kind!r} model; "
                                       f"pass weights of a {self.model_name!r} model")
            try:
                self._device = pick_device(self.params["device"])
            except Exception as exc:
                raise UnavailableError(str(exc)) from None
            self._model = model.to(self._device)
            torch.backends.cudnn.benchmark = False
        return self._model

    def _opts(self):
        p = self.params
        return {"tile": p["tile"], "overlap": p["overlap"], "batch": p["batch"]}

    def denoise(self, noisy, *, noise=None, rng=None):
        return self.denoise_batch([noisy], noise=noise, rng=rng)[0]

    def denoise_batch(self, batch, *, noise=None, rng=None):
        from denoisebench_neural.inference import denoise_many

        model = self._load()
        grays, slots = [], []
        for i, im in enumerate(batch):
            im = np.asarray(im, dtype=np.float32)
            if im.ndim == 3:  # per channel
                for c in range(im.shape[2]):
                    grays.append(np.ascontiguousarray(im[:, :, c]))
                    slots.append((i, c))
            else:
                grays.append(im)
                slots.append((i, None))
        outs = denoise_many(model, grays, self._device, **self._opts())
        result = [np.empty(np.shape(b), np.float32) for b in batch]
        for (i, c), o in zip(slots, outs):
            if c is None:
                result[i] = o
            else:
                result[i][:, :, c] = o
        return result

    def close(self):
        self._model = None


class CNNDenoiser(_Neural):
    name = "cnn"
    model_name = "cnn"
    description = "CNN-only residual denoiser (the hybrid without its RNN branch), blind, trained on Train400"


class HybridDenoiser(_Neural):
    name = "hybrid"
    model_name = "hybrid"
    description = "hybrid CNN–RNN residual denoiser (ReNet-style bidirectional LSTM branch), blind, trained on Train400"
    #: whole images up to 512 px a side (every BSD68 / Set12 image): the shipped weights (Round 3.2) were trained on
    #: 64–160 px patches and are as good on whole images as on 64-px tiles; on larger images 512-px tiles with a
    #: 256-px overlap change PSNR by < 0.001 dB (RESULTS.md, Round 3.2)
    defaults = {**_Neural.defaults, "tile": 512, "overlap": 256}
