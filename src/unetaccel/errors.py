"""The one base of every user-facing error.

Anything a user can cause (a malformed IR, an unsupported layer, a wrong image size, a missing
dataset or tool, a bad option) raises a subclass of :class:`UnetaccelError` with one line that
names the culprit; the CLI prints it and exits 2. Any other exception is a bug: the CLI prints
``internal error`` with the traceback and exits 3.
"""
from __future__ import annotations


class UnetaccelError(Exception):
    """A user-facing error: bad input or a missing tool; the message names the culprit."""
