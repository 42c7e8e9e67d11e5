"""The package version (one place; read by provenance and the CLI)."""

__version__ = "0.1.0"
