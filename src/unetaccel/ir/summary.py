"""Per-layer figures of an IR: shapes, bits, memory, MACs and ideal cycles."""
from __future__ import annotations

import math

import numpy as np

from .graph import IR


def summary(ir: IR, lanes=(8, 8)) -> list[dict]:
    """Per layer: shapes, bits, f, accumulator width, parameter bytes, MACs and ideal cycles."""
    pin, pout = lanes
    rows = []
    for lay in ir.layers:
        x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
        macs = 0
        ideal = 0
        if lay.op == "conv2d":
            k = int(lay.attrs["kernel"])
            macs = y.shape[1] * y.shape[2] * y.shape[0] * x.shape[0] * k * k
            ideal = y.shape[1] * y.shape[2] * math.ceil(y.shape[0] / pout) * k * k * math.ceil(x.shape[0] / pin)
        elif lay.op == "conv_transpose2d":
            macs = x.shape[1] * x.shape[2] * x.shape[0] * y.shape[0] * 4
            ideal = x.shape[1] * x.shape[2] * 4 * math.ceil(y.shape[0] / pout) * math.ceil(x.shape[0] / pin)
        pbytes = sum(ir.arrays[k].size * ir.arrays[k].dtype.itemsize for k in lay.params.values())
        rows.append({
            "layer": lay.name, "op": lay.op, "in": list(x.shape), "out": list(y.shape),
            "out_bits": y.type.bits, "out_signed": y.type.signed,
            "out_f": list(y.type.f) if y.type.per_channel else y.type.f,
            "acc_bits": lay.attrs.get("acc_bits", lay.attrs.get("prod_bits")),
            "param_bytes": int(pbytes), "act_bytes": int(np.prod(y.shape) * ((y.type.bits + 7) // 8)),
            "macs": int(macs), "ideal_cycles": int(ideal),
        })
    return rows
