"""Example denoisebench plugin (copy and rename; see docs/plugins.md)."""

__version__ = "0.1.0"
