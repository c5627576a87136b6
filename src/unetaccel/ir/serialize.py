"""Reading and writing the IR: a versioned JSON file plus an .npz of integer arrays.

Loading checks the JSON's structure (kinds of every field) and then validates the IR
(:mod:`unetaccel.ir.validation`); errors name the bad field.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .graph import FORMAT, IR, VERSION, IRError, Layer, QType, Tensor
from .validation import validate


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix == ".npz":
        p = p.with_suffix(".json")
    if p.suffix != ".json":
        p = p.with_suffix(".json")
    return p, p.with_suffix(".npz")


def save(ir: IR, path) -> Path:
    """Write PATH.json and PATH.npz (deterministic: sorted keys, fixed layout)."""
    validate(ir)
    jpath, npath = _paths(path)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    doc = ir.to_json()
    doc["arrays_file"] = npath.name
    jpath.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    # np.savez writes zip entries with a fixed timestamp: byte-identical for identical arrays
    with open(npath, "wb") as fh:
        arrays: dict[str, Any] = {k: ir.arrays[k] for k in sorted(ir.arrays)}
        np.savez(fh, **arrays)
    return jpath


def _need(d: Mapping, key: str, where: str, kind=None):
    if not isinstance(d, Mapping) or key not in d:
        raise IRError(f"{where}: missing field '{key}'")
    v = d[key]
    if kind is not None and not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise IRError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(v).__name__} {v!r}")
    return v


def _qtype(d, where) -> QType:
    bits = _need(d, "bits", where, int)
    signed = _need(d, "signed", where, bool)
    f = _need(d, "f", where)
    if isinstance(f, list):
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in f):
            raise IRError(f"{where}.f: expected integers, got {f!r}")
        f = tuple(f)
    elif not isinstance(f, int) or isinstance(f, bool):
        raise IRError(f"{where}.f: expected an integer or a list of integers, got {f!r}")
    if not 1 <= bits <= 64:
        raise IRError(f"{where}.bits: {bits} is outside 1..64")
    return QType(bits, signed, f)


def from_json(doc: Mapping, arrays: Mapping[str, np.ndarray], source: str = "IR") -> IR:
    if not isinstance(doc, Mapping):
        raise IRError(f"{source}: expected a JSON object at the top level")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise IRError(f"{source}: field 'format' is {fmt!r}, expected {FORMAT!r}")
    version = _need(doc, "version", source, int)
    if version != VERSION:
        raise IRError(f"{source}: field 'version' is {version}, this unetaccel reads version {VERSION}")
    tensors = {}
    for name, t in _need(doc, "tensors", source, dict).items():
        where = f"{source}: tensors.{name}"
        shape = _need(t, "shape", where, list)
        if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
            raise IRError(f"{where}.shape: expected [C, H, W] positive integers, got {shape!r}")
        tensors[name] = Tensor(name, tuple(shape), _qtype(t, where))
    layers = []
    for i, lay in enumerate(_need(doc, "layers", source, list)):
        where = f"{source}: layers[{i}]"
        name = _need(lay, "name", where, str)
        where = f"{source}: layer '{name}'"
        inputs = _need(lay, "inputs", where, list)
        for j, x in enumerate(inputs):
            if not isinstance(x, str):
                raise IRError(f"{where}: inputs[{j}]: expected a tensor name (str), got {type(x).__name__} {x!r}")
        attrs = lay.get("attrs", {})
        if not isinstance(attrs, dict):
            raise IRError(f"{where}: attrs: expected an object (name -> value), got {type(attrs).__name__}")
        params = lay.get("params", {})
        if not isinstance(params, dict):
            raise IRError(f"{where}: params: expected an object (role -> array key), got {type(params).__name__}")
        for role, key in params.items():
            if not isinstance(key, str):
                raise IRError(f"{where}: params.{role}: expected an array key (str), got {type(key).__name__} {key!r}")
        layers.append(Layer(name, _need(lay, "op", where, str), tuple(inputs), _need(lay, "output", where, str),
                            MappingProxyType(dict(attrs)), MappingProxyType(dict(params))))
    outs = _need(doc, "outputs", source, dict)
    declared = doc.get("arrays", {})
    if not isinstance(declared, dict):
        raise IRError(f"{source}: arrays: expected an object (key -> {{shape, dtype}}), got {type(declared).__name__}")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise IRError(f"{source}: meta: expected an object, got {type(meta).__name__}")
    for k, spec in declared.items():
        if not isinstance(spec, dict):
            raise IRError(f"{source}: arrays.{k}: expected an object {{shape, dtype}}, got {type(spec).__name__}")
        if k not in arrays:
            raise IRError(f"{source}: array '{k}' is declared in the JSON but missing from the .npz")
        a = arrays[k]
        if str(a.dtype) != spec.get("dtype") or list(a.shape) != spec.get("shape"):
            raise IRError(f"{source}: array '{k}' is {a.dtype}{list(a.shape)} in the .npz, "
                          f"the JSON declares {spec.get('dtype')}{spec.get('shape')}")
    rounding = _need(doc, "rounding", source, str)
    ir = IR(name=_need(doc, "name", source, str), input=_need(doc, "input", source, str),
            tensors=MappingProxyType(tensors), layers=tuple(layers),
            logits=_need(outs, "logits", f"{source}: outputs", str),
            classes=_need(outs, "classes", f"{source}: outputs", str),
            arrays=MappingProxyType(dict(arrays)), meta=MappingProxyType(dict(meta)),
            rounding=rounding, version=version)
    validate(ir, source)
    return ir


def load(path) -> IR:
    """Load and validate PATH.json + its .npz; raises IRError naming the bad field."""
    given = Path(path)
    if given.is_dir():
        hint = f": its IR is {given / 'model.json'}" if (given / "model.json").is_file() else ""
        raise IRError(f"{path}: a folder, not an IR file (expected the model.json written by `unetaccel "
                      f"quantize`){hint}")
    if given.suffix not in ("", ".json", ".npz"):
        raise IRError(f"{path}: not an IR file (expected the model.json written by `unetaccel quantize`)")
    jpath, npath = _paths(path)
    if not jpath.is_file():
        also = f" ({jpath} neither)" if jpath != given else ""
        raise IRError(f"{path}: no such IR file{also} (expected the model.json written by `unetaccel quantize`)")
    try:
        doc = json.loads(jpath.read_text())
    except json.JSONDecodeError as e:
        raise IRError(f"{jpath}: not valid JSON ({e})") from None
    if isinstance(doc, dict) and "arrays_file" in doc:
        npath = jpath.parent / doc["arrays_file"]
    if not npath.is_file():
        raise IRError(f"{npath}: the IR's arrays file is missing (it is written beside {jpath.name})")
    if not zipfile.is_zipfile(npath):
        raise IRError(f"{npath}: not a valid .npz file (not a zip archive of arrays; it is written by "
                      "`unetaccel quantize` beside the JSON)")
    try:
        with np.load(npath, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # damaged members, object arrays, ...
        raise IRError(f"{npath}: not a valid .npz file ({type(e).__name__}: {e})") from None
    return from_json(doc, arrays, str(jpath))


