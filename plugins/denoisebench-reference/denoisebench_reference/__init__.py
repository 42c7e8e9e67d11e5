"""Reference CNN denoisers for denoisebench: DnCNN-S, DnCNN-B, CDnCNN-B and FFDNet from their authors' weights.

Nothing here imports torch or h5py at import time: the denoisers load them (and the weights) when first used.
"""

__version__ = "0.1.0"
