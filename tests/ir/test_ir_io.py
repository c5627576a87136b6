"""IR save/load/validate: round trips, determinism, and errors that name the bad field."""
import json

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.ir import IRError, randnet, reference as R


@pytest.fixture(scope="module")
def small_ir():
    return randnet.random_unet(widths=(4, 8, 16), num_classes=5, size=(16, 24), seed=3)


def test_round_trip_and_deterministic_bytes(small_ir, tmp_path):
    p1 = irmod.save(small_ir, tmp_path / "a" / "model")
    p2 = irmod.save(irmod.load(p1), tmp_path / "b" / "model")
    assert p1.read_bytes() == p2.read_bytes()
    assert p1.with_suffix(".npz").read_bytes() == p2.with_suffix(".npz").read_bytes()
    print("network seed 3, image seed 0")
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 16, 24), dtype=np.uint8)
    a, b = R.run(small_ir, x), R.run(irmod.load(p2), x)
    assert np.array_equal(a.logits, b.logits) and np.array_equal(a.classes, b.classes)


def _broken(small_ir, tmp_path, edit_json=None, edit_arrays=None):
    p = irmod.save(small_ir, tmp_path / "model")
    doc = json.loads(p.read_text())
    if edit_json:
        edit_json(doc)
    p.write_text(json.dumps(doc))
    if edit_arrays:
        with np.load(p.with_suffix(".npz")) as z:
            arrays = {k: z[k] for k in z.files}
        edit_arrays(arrays)
        np.savez(p.with_suffix(".npz"), **arrays)
    return p


def test_missing_array_is_named(small_ir, tmp_path):
    p = _broken(small_ir, tmp_path, edit_arrays=lambda a: a.pop("conv0.weight" if "conv0.weight" in a else next(iter(a))))
    with pytest.raises(IRError, match=r"array '.*' is declared in the JSON but missing"):
        irmod.load(p)


def test_wrong_dtype_is_named(small_ir, tmp_path):
    key = small_ir.layers[0].params["weight"]

    def f(a):
        a[key] = a[key].astype(np.float32)
    p = _broken(small_ir, tmp_path, edit_arrays=f)
    with pytest.raises(IRError, match=f"array '{key}'.*float32"):
        irmod.load(p)


def test_missing_field_and_bad_op_are_named(small_ir, tmp_path):
    def drop_kernel(d):
        del d["layers"][0]["attrs"]["kernel"]
    with pytest.raises(IRError, match=r"layer '.*': missing attrs.kernel"):
        irmod.load(_broken(small_ir, tmp_path, drop_kernel))

    def bad_op(d):
        d["layers"][2]["op"] = "softmax"
    with pytest.raises(IRError, match=r"op 'softmax' is not supported"):
        irmod.load(_broken(small_ir, tmp_path, bad_op))

    def bad_version(d):
        d["version"] = 99
    with pytest.raises(IRError, match="version"):
        irmod.load(_broken(small_ir, tmp_path, bad_version))


def test_inconsistent_shift_and_out_of_range_weights(small_ir, tmp_path):
    lay = next(lay for lay in small_ir.layers if lay.op == "batchnorm")

    def f(a):
        a[lay.params["shift"]] = a[lay.params["shift"]] + 1
    with pytest.raises(IRError, match=r"params.shift\[0\]"):
        irmod.load(_broken(small_ir, tmp_path, edit_arrays=f))
    key = small_ir.layers[0].params["weight"]

    def g(a):
        a[key][0, 0, 0, 0] = 16
    with pytest.raises(IRError, match="narrow range"):
        irmod.load(_broken(small_ir, tmp_path, edit_arrays=g))


def test_accumulator_overflow_is_refused(small_ir, tmp_path):
    def f(d):
        for lay in d["layers"]:
            if lay["op"] == "conv2d":
                lay["attrs"]["weight_bits"] = 16
    with pytest.raises(IRError, match="accumulator"):
        irmod.load(_broken(small_ir, tmp_path, f))


def test_missing_files(tmp_path):
    with pytest.raises(IRError, match="no such IR file"):
        irmod.load(tmp_path / "nope.json")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(IRError, match="not valid JSON"):
        irmod.load(tmp_path / "m.json")


def test_wrong_image_size_and_dtype(small_ir):
    with pytest.raises(IRError, match=r"does not match the network input"):
        R.run(small_ir, np.zeros((1, 3, 32, 32), np.uint8))
    with pytest.raises(IRError, match="uint8"):
        R.run(small_ir, np.zeros((1, 3, 16, 24), np.float32))


def test_builder_refuses_an_accumulator_beyond_the_hardware():
    """Export builds the IR through IRBuilder: a layer whose worst case passes the
    hardware accumulator fails there, naming the layer."""
    from unetaccel.ir.builder import IRBuilder
    b = IRBuilder("big", (3, 8, 8))
    # 8-bit weights over 3 input channels cannot exceed 32 bits; over 8192 channels they do
    x = b.input
    w = np.zeros((2, 3, 3, 3), dtype=np.int64)
    acc = b.conv2d("ok", x, w, 0, weight_bits=8)
    assert b.t(acc).type.bits <= 32
    b2 = IRBuilder("big", (8192, 2, 2))
    wide = b2.conv2d("too_wide", b2.input, np.zeros((2, 8192, 3, 3), dtype=np.int64), 0, weight_bits=8)
    b2.batchnorm("bn", wide, [1, 1], 0, [0, 0], 0)
    b2.conv2d("head", "bn", np.zeros((2, 2, 1, 1), dtype=np.int64), 0, bias=[0, 0], out_f=0, out_signed=True)
    b2.argmax("argmax", "head")
    with pytest.raises(IRError, match="layer 'too_wide'.*accumulator needs 33 bits"):
        b2.build("head", "argmax")


def _layer_of(doc, op, requantizing=None):
    for lay in doc["layers"]:
        if lay["op"] == op and (requantizing is None or ("shift" in lay["params"]) == requantizing):
            return lay
    raise AssertionError(f"no {op} layer in the fixture")


@pytest.mark.parametrize("op,requant,edit,match", [
    ("conv2d", False, lambda a: a.update(acc_bits="abc"), r"attrs.acc_bits: expected an integer, got str 'abc'"),
    ("batchnorm", None, lambda a: a.update(lo=None), r"attrs.lo: expected an integer, got NoneType None"),
    ("batchnorm", None, lambda a: a.update(relu="no"), r"attrs.relu: expected true or false, got str 'no'"),
    ("batchnorm", None, lambda a: a.update(relu=1), r"attrs.relu: expected true or false, got int 1"),
    ("conv2d", False, lambda a: a.update(kernel=True), r"attrs.kernel: expected an integer, got bool True"),
    ("conv2d", False, lambda a: a.update(kernel=3.0), r"attrs.kernel: expected an integer, got float 3.0"),
    ("conv2d", False, lambda a: a.update(weight_f=["a"] * len(a["weight_f"])),
     r"attrs.weight_f: expected a list of integers"),
    ("batchnorm", None, lambda a: a.update(mul_f=5), r"attrs.mul_f: expected a list of integers, got int 5"),
    ("conv_transpose2d", None, lambda a: a.update(weight_bits=0), r"attrs.weight_bits = 0 is outside 2..64"),
    ("conv2d", False, lambda a: a.update(acc_bit=20), r"attrs.acc_bit is not an attribute of conv2d"),
    ("conv2d", True, lambda a: a.pop("lo"), r"missing attrs.lo"),
])
def test_attribute_types_are_validated_and_named(small_ir, tmp_path, op, requant, edit, match):
    names = {}

    def f(d):
        lay = _layer_of(d, op, requant)
        names["layer"] = lay["name"]
        edit(lay["attrs"])
    p = _broken(small_ir, tmp_path, f)
    with pytest.raises(IRError, match=r"layer '([^']+)': " + match) as e:
        irmod.load(p)
    assert f"layer '{names['layer']}'" in str(e.value)


@pytest.mark.parametrize("field,value,match", [
    ("attrs", [1, 2], r"attrs: expected an object \(name -> value\), got list"),
    ("params", ["w"], r"params: expected an object \(role -> array key\), got list"),
    ("inputs", [3], r"inputs\[0\]: expected a tensor name \(str\), got int 3"),
])
def test_layer_fields_of_the_wrong_json_kind_are_named(small_ir, tmp_path, field, value, match):
    def f(d):
        d["layers"][0][field] = value
    with pytest.raises(IRError, match=rf"layer '{small_ir.layers[0].name}': {match}"):
        irmod.load(_broken(small_ir, tmp_path, f))


def _retyped(small_ir, tmp_path, op, role, dtype):
    """Save the fixture with one parameter array stored (JSON and .npz alike) in another dtype."""
    lay = next(lay for lay in small_ir.layers if lay.op == op and role in lay.params)
    key = lay.params[role]

    def j(d):
        d["arrays"][key]["dtype"] = np.dtype(dtype).name

    def a(arrays):
        arrays[key] = arrays[key].astype(dtype)
    return _broken(small_ir, tmp_path, j, a), lay, key


@pytest.mark.parametrize("op,role,dtype,expected", [
    ("conv2d", "weight", np.int16, "int8"), ("conv2d", "weight", np.uint8, "int8"),
    ("conv2d", "shift", np.int64, "int32"), ("conv2d", "bias", np.int64, "int32"),
    ("batchnorm", "mul", np.int8, "int32"), ("batchnorm", "bias", np.int16, "int32 or int64"),
    ("batchnorm", "shift", np.uint32, "int32"), ("conv_transpose2d", "weight", np.int32, "int8"),
])
def test_parameter_dtypes_are_fixed_per_role(small_ir, tmp_path, op, role, dtype, expected):
    p, lay, key = _retyped(small_ir, tmp_path, op, role, dtype)
    with pytest.raises(IRError, match=rf"layer '{lay.name}': array '{key}' \(params.{role}\) has dtype "
                                      rf"{np.dtype(dtype).name}, expected {expected}$"):
        irmod.load(p)


def test_what_the_writers_produce_is_accepted(small_ir, tmp_path):
    """The dtypes the builder (exporter, randnet) writes, and an int64 BatchNorm bias (bias_bits > 32)."""
    got = {(lay.op, role): str(small_ir.arrays[key].dtype) for lay in small_ir.layers for role, key in lay.params.items()}
    assert got == {("conv2d", "weight"): "int8", ("conv2d", "bias"): "int32", ("conv2d", "shift"): "int32",
                   ("batchnorm", "mul"): "int32", ("batchnorm", "bias"): "int32", ("batchnorm", "shift"): "int32",
                   ("conv_transpose2d", "weight"): "int8", ("conv_transpose2d", "shift"): "int32"}
    p, lay, key = _retyped(small_ir, tmp_path, "batchnorm", "bias", np.int64)
    assert irmod.load(p).arrays[key].dtype == np.int64


def test_unknown_parameter_role_is_named(small_ir, tmp_path):
    lay = small_ir.layers[0]

    def f(d):
        d["layers"][0]["params"]["scale"] = lay.params["weight"]
    with pytest.raises(IRError, match=rf"layer '{lay.name}': params.scale is not a parameter of conv2d"):
        irmod.load(_broken(small_ir, tmp_path, f))


@pytest.mark.parametrize("content", [b"garbage, not an npz", b"PK\x03\x04 truncated zip", b""])
def test_garbage_npz_is_named(small_ir, tmp_path, content):
    p = irmod.save(small_ir, tmp_path / "model")
    p.with_suffix(".npz").write_bytes(content)
    with pytest.raises(IRError, match=rf"{p.with_suffix('.npz')}: not a valid .npz file"):
        irmod.load(p)
