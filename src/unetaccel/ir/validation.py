"""Validation of an IR: the graph (names, order, outputs) and every layer against its op's
declaration in the registry (:mod:`unetaccel.ir.ops`): inputs, attributes and their kinds,
parameter roles and dtypes, then the op's own checks of shapes, scales and worst-case widths.
The first bad field is named in an IRError."""
from __future__ import annotations

import numpy as np

from .arith import ROUNDING
from .graph import IR, IRError, Layer
from .ops import BOOL, INT, OpSpec, spec


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_names(where: str, role: str, noun: str, op: str, declared, given) -> None:
    """Every required name of `declared` is in `given`, and `given` has no name `declared` lacks."""
    for k, decl in declared.items():
        if decl.required and k not in given:
            raise IRError(f"{where}: missing {role}.{k}")
    for k in given:
        if k not in declared:
            raise IRError(f"{where}: {role}.{k} is not {noun} of {op}"
                          + (f" (it has: {', '.join(sorted(declared))})" if declared else " (it has none)"))


def _check_declared(ir: IR, lay: Layer, op: OpSpec, where: str) -> None:
    """Parameters, attributes and inputs as the op declares them (before any arithmetic uses them)."""
    _check_names(where, "params", "a parameter", op.name, op.params, lay.params)
    for role, key in lay.params.items():
        if key not in ir.arrays:
            raise IRError(f"{where}: params.{role} refers to array '{key}', which is missing from the .npz")
        a = ir.arrays[key]
        if str(a.dtype) not in op.params[role].dtypes:
            raise IRError(f"{where}: array '{key}' (params.{role}) has dtype {a.dtype}, "
                          f"expected {' or '.join(op.params[role].dtypes)}")
    _check_names(where, "attrs", "an attribute", op.name, op.attrs, lay.attrs)
    for k, v in lay.attrs.items():
        at = op.attrs[k]
        ok = (_is_int(v) if at.kind == INT else isinstance(v, (bool, np.bool_)) if at.kind == BOOL
              else isinstance(v, (list, tuple)) and all(_is_int(x) for x in v))
        if not ok:
            raise IRError(f"{where}: attrs.{k}: expected {at.kind}, got {type(v).__name__} {v!r}")
        if k.endswith("_bits") and not 2 <= v <= 64:
            raise IRError(f"{where}: attrs.{k} = {v} is outside 2..64")
        if at.min is not None and not k.endswith("_bits") and v < at.min:
            raise IRError(f"{where}: attrs.{k} = {v} must be at least {at.min}")
    if len(lay.inputs) != op.inputs:
        raise IRError(f"{where}: inputs has {len(lay.inputs)} entries, {op.name} takes {op.inputs}")


def _check_inputs(ir: IR, lay: Layer, op: OpSpec, where: str) -> None:
    """The kind of scale each input has (codes or a per-channel accumulator) and its width."""
    for name in lay.inputs:
        x = ir.tensors[name]
        if x.type.per_channel != (op.input_scale == "channel"):
            raise IRError(f"{where}: input '{x.name}' has the wrong kind of scale for {op.name}")
        if op.input_scale == "tensor" and x.type.bits > 16:
            raise IRError(f"{where}: input '{x.name}' is {x.type.bits}-bit; {op.name} takes activation codes")


def validate(ir: IR, source: str = "IR") -> None:
    """Check the whole IR; raise IRError naming the first bad field."""
    if ir.rounding != ROUNDING:
        raise IRError(f"{source}: field 'rounding' is {ir.rounding!r}; only {ROUNDING!r} is implemented")
    for name, t in ir.tensors.items():
        if t.type.per_channel and len(t.type.channel_f) != t.shape[0]:
            raise IRError(f"{source}: tensors.{name}.f has {len(t.type.channel_f)} entries for {t.shape[0]} channels")
    if ir.input not in ir.tensors:
        raise IRError(f"{source}: input tensor '{ir.input}' is not in 'tensors'")
    it = ir.input_tensor.type
    if it.bits != 8 or it.signed:
        raise IRError(f"{source}: input tensor '{ir.input}' must be uint8 (bits 8, unsigned), got {it}")
    defined = {ir.input}
    names = set()
    for lay in ir.layers:
        where = f"{source}: layer '{lay.name}'"
        if lay.name in names:
            raise IRError(f"{where}: duplicate layer name")
        names.add(lay.name)
        op = spec(lay.op, where)
        _check_declared(ir, lay, op, where)
        for x in lay.inputs:
            if x not in ir.tensors:
                raise IRError(f"{where}: input '{x}' is not in 'tensors'")
            if x not in defined:
                raise IRError(f"{where}: input '{x}' is used before the layer that produces it")
        if lay.output not in ir.tensors:
            raise IRError(f"{where}: output '{lay.output}' is not in 'tensors'")
        if lay.output in defined:
            raise IRError(f"{where}: output '{lay.output}' is produced twice")
        _check_inputs(ir, lay, op, where)
        op.check(ir, lay, where)
        defined.add(lay.output)
    for role, out in (("logits", ir.logits), ("classes", ir.classes)):
        if out not in defined:
            raise IRError(f"{source}: outputs.{role} '{out}' is not produced by any layer")
    lt = ir.tensors[ir.logits]
    if not lt.type.signed or lt.type.bits > 16:
        raise IRError(f"{source}: outputs.logits '{ir.logits}' must be a signed code of at most 16 bits")
    last = ir.producer(ir.classes)
    if last is None or last.op != "argmax" or last.inputs[0] != ir.logits:
        raise IRError(f"{source}: outputs.classes must be the argmax of outputs.logits")
