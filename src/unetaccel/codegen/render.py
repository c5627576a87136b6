"""Jinja2 rendering shared by the generators: real template files, StrictUndefined,
deterministic output (no timestamps, sorted inputs, '\\n' line ends)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False,
                              autoescape=False)


def render(template: str, ctx: dict) -> str:
    return env().get_template(template).render(**ctx)


def render_to(template: str, path: Path, ctx: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(template, ctx)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
