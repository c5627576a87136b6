"""Jinja2 rendering shared by the generators: real template files, StrictUndefined,
deterministic output (no timestamps, sorted inputs, '\\n' line ends). Rendering returns text;
codegen.writer puts it on disk."""
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
