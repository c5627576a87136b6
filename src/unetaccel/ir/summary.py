"""Per-layer figures of an IR: shapes, bits, memory, MACs and ideal cycles (from the op registry)."""
from __future__ import annotations

import numpy as np

from .graph import IR
from .ops import ideal_cycles, macs, spec


def summary(ir: IR, lanes=(8, 8)) -> list[dict]:
    """Per layer: shapes, bits, f, widest intermediate, parameter bytes, output bytes, MACs and
    ideal cycles at PIN x POUT lanes."""
    rows = []
    for lay in ir.layers:
        x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
        width = spec(lay.op).width_attr
        pbytes = sum(ir.arrays[k].size * ir.arrays[k].dtype.itemsize for k in lay.params.values())
        rows.append({
            "layer": lay.name, "op": lay.op, "in": list(x.shape), "out": list(y.shape),
            "out_bits": y.type.bits, "out_signed": y.type.signed,
            "out_f": list(y.type.channel_f) if y.type.per_channel else y.type.tensor_f,
            "acc_bits": lay.attrs.get(width) if width else None,
            "param_bytes": int(pbytes), "act_bytes": int(np.prod(y.shape) * ((y.type.bits + 7) // 8)),
            "macs": macs(ir, lay), "ideal_cycles": ideal_cycles(ir, lay, lanes),
        })
    return rows
