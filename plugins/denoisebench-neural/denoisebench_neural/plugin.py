"""Hook implementations. Imports no torch: the denoisers load torch and their weights when first used."""

from __future__ import annotations

from denoisebench.hookspecs import hookimpl


@hookimpl
def denoisebench_register_denoisers(registry):
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser

    registry.add(CNNDenoiser)
    registry.add(HybridDenoiser)


@hookimpl
def denoisebench_add_commands(subparsers):
    from denoisebench_neural.cli import add_train_arguments, run_train

    p = subparsers.add_parser("train", help="train the cnn or hybrid denoiser (denoisebench-neural)")
    add_train_arguments(p)
    p.set_defaults(func=run_train)
