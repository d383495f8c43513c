"""Where the shipped BPMN files are, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped(folder: str) -> Path:
    """A shipped folder of the repository root, e.g. `bpmn`.

    A wheel carries them inside the package (see pyproject.toml); a source checkout or an
    editable install has them at the repository root.
    """
    inside = _PACKAGE / folder
    if inside.is_dir():
        return inside
    beside = _PACKAGE.parent / folder
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"flowdesk's {folder}/ folder is missing from {_PACKAGE}")
