"""Build a :class:`~denoisebench.interfaces.Dataset` from a command-line spec string (grammar in
:mod:`denoisebench.selection`), and the label a dataset's cells are stored under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denoisebench.interfaces import Dataset
from denoisebench.selection import parse_dataset_spec


def dataset_from_spec(plugins, spec: str, **options: Any) -> Dataset:
    """Instantiate the dataset that ``spec`` names; keyword ``options`` override those in the spec.

    ``plugins`` is a :class:`denoisebench.pluginmanager.Plugins` (or anything with a ``.datasets`` registry).
    Option errors are raised by the dataset class as one-line :class:`ParameterError`.
    """
    registry = plugins.datasets
    name, parsed = parse_dataset_spec(spec, registry)
    return registry.get(name)(**{**parsed, **options})


def dataset_label(spec: str, dataset: Dataset | None = None) -> str:
    """The dataset name stored in cells: the registered name, ``folder:<folder name>`` for a folder, and
    ``<name>:<folder name>`` for a ``dataset`` that declares a ``label_option`` (e.g. ``pairs:PATH``), so two
    folders of one kind stay apart."""
    option = getattr(dataset, "label_option", "") if dataset is not None else ""
    if option and dataset.options.get(option):
        return f"{dataset.name}:{Path(str(dataset.options[option])).name}"
    name, sep, rest = spec.partition(":")
    if name == "folder" and sep:
        return f"folder:{Path(rest.split(',')[0]).expanduser().resolve().name}"
    if not sep and ("/" in spec or Path(spec).expanduser().is_dir()):
        return f"folder:{Path(spec).expanduser().resolve().name}"
    return name
