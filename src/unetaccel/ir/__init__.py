"""The integer IR (frozen dataclasses, load/validate/save) and the NumPy reference.

Nothing here imports torch or brevitas: codegen, hls, rtl_sim and fsic depend
on this package only.
"""
from . import reference  # noqa: F401
from .arith import ROUNDING, requantize, shift_round_half_even  # noqa: F401
from .model import (FORMAT, HW_ACC_BITS, HW_BN_BITS, IR, OPS, VERSION, IRError, Layer,  # noqa: F401
                    QType, Tensor, load, save, summary, validate)
