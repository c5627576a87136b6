"""The compound options of the CLI and the benchmarks, each parsed by one rule.

`--size HEIGHTxWIDTH` and `--lanes PINxPOUT` (and comma-separated lists of them) come in as text;
a malformed one is an OptionError naming the option and an example. Lanes follow the one lane
rule of the generators (:func:`unetaccel.codegen.layout.check_lanes`); `--mult` is one of the RTL's
multiplier styles (:data:`unetaccel.codegen.rtl_project.MULTS`).
"""
from __future__ import annotations

from .codegen.layout import check_lanes
from .codegen.rtl_project import MULTS
from .errors import UnetaccelError


class OptionError(UnetaccelError, ValueError):
    """A malformed command-line option; the message names it."""


def parse_pair(text: str, option: str, form: str, example: str) -> tuple[int, int]:
    """'AxB' -> (A, B), two integers (an upper- or lower-case x)."""
    parts = str(text).strip().lower().split("x")
    try:
        a, b = (int(v) for v in parts)
    except ValueError:
        raise OptionError(f"{option} {text!r}: expected {form}, e.g. {example}") from None
    return a, b


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """HEIGHTxWIDTH, both positive."""
    h, w = parse_pair(text, option, "HEIGHTxWIDTH", "64x64")
    if h < 1 or w < 1:
        raise OptionError(f"{option} {text!r}: height and width must be positive")
    return h, w


def parse_lanes(text: str, option: str = "--lanes") -> tuple[int, int]:
    """PINxPOUT, by the generators' lane rule."""
    return check_lanes(parse_pair(text, option, "PINxPOUT", "8x8"))


def parse_mult(text: str, option: str = "--mult") -> str:
    """The RTL's multiplier style: dsp or dsp2 (lower case)."""
    mult = str(text).strip().lower()
    if mult not in MULTS:
        raise OptionError(f"{option} {text!r}: one of {', '.join(MULTS)}")
    return mult


def parse_lanes_list(text: str, option: str = "--lanes") -> list[tuple[int, int]]:
    """Comma-separated PINxPOUT, e.g. 4x4,8x8,4x16."""
    return [parse_lanes(v, option) for v in str(text).split(",") if v.strip()]
