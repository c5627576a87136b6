"""The one writer of generated files: an emitter's {relative path: text} onto disk.

A file is written only when its text changed, so its modification time (and what a build
keyed on it decides) stays put when regenerating gives the same text.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath


def write_files(out_dir, files: dict[str, str]) -> list[Path]:
    """Put `files` ({path relative to out_dir: text}) into out_dir, creating folders as needed,
    rewriting only the files whose text differs; returns their paths in the order given."""
    out_dir = Path(out_dir)
    written = []
    for rel, text in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            raise ValueError(f"generated file name {rel!r}: must be a path inside the output folder")
        path = out_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written
