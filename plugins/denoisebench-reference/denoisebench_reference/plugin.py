"""Hook implementations. Imports no torch and no h5py: the denoisers load them, and the weights, when first used."""

from __future__ import annotations

from denoisebench.hookspecs import hookimpl


@hookimpl
def denoisebench_register_denoisers(registry):
    from denoisebench_reference.denoisers import CDnCNNB, DnCNNB, DnCNNS, FFDNet

    for cls in (DnCNNS, DnCNNB, CDnCNNB, FFDNet):
        registry.add(cls)
