"""denoisebench-neural: the CNN-only and hybrid CNN–RNN denoisers (torch), registered as a denoisebench plugin."""

__version__ = "0.1.0"
