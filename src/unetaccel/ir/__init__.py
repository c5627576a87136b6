"""The integer IR (frozen dataclasses, load/validate/save) and the NumPy reference.

Nothing here imports torch or brevitas: codegen, hls, rtl_sim and fsic depend
on this package only. Modules: ``graph`` (the dataclasses), ``serialize`` (JSON + .npz),
``ops`` (the op registry), ``validation``, ``summary``, ``builder`` (building IRs layer by layer), ``arith`` (the integer
arithmetic), ``reference`` (the golden model), ``randnet`` (random-weight networks), ``data``
(validation images beside an IR).
"""
from . import reference  # noqa: F401
from .arith import ROUNDING, requantize, shift_round_half_even  # noqa: F401
from .graph import FORMAT, HW_ACC_BITS, HW_BN_BITS, IR, VERSION, IRError, Layer, QType, Tensor, make_ir  # noqa: F401
from .ops import OPS, OPS_SPEC, OpSpec, spec  # noqa: F401
from .serialize import load, save  # noqa: F401
from .summary import summary  # noqa: F401
from .validation import validate  # noqa: F401
