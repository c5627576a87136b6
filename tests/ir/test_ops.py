"""The op registry: one declaration per op, read by the validator, the builder, summary and the
generators; the worst-case widths are tight; every op has a reference computation and a kernel."""
import re
from types import MappingProxyType

import numpy as np
import pytest

from unetaccel.codegen import layout, regmap, rtl_project
from unetaccel.codegen.render import TEMPLATE_DIR
from unetaccel.ir import IRError, OPS, OPS_SPEC, QType, randnet, reference as R, summary
from unetaccel.ir import ops as O
from unetaccel.ir.graph import IR, Layer

SEED = 41


def test_every_op_has_a_reference_a_step_and_kernels():
    """Each registry op is computed by the reference (a residual random network uses them all),
    covered by a step kind of the shared planner, and each step kind has an HLS kernel called by
    the top, an RTL op code and a branch of the RTL core."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED, residual=True)
    assert {lay.op for lay in net.layers} == set(OPS)
    x = np.random.default_rng(SEED).integers(0, 256, (1, 3, 8, 8), dtype=np.uint8)
    assert set(R.run(net, x, trace=True).trace) == set(net.tensors)
    covered = {op for ops in layout.STEP_KINDS.values() for op in ops}
    assert covered | {"concat"} == set(OPS)  # a concat is the two sources of the conv reading it
    hls_top = (TEMPLATE_DIR / "hls_project" / "unet_top.cpp.j2").read_text()
    engine = (TEMPLATE_DIR / "hls_project" / "unet_engine.h.j2").read_text()
    core = (TEMPLATE_DIR / "rtl_project" / "unet_core.sv.j2").read_text()
    assert set(rtl_project.OPCODE) == set(layout.STEP_KINDS)
    assert set(rtl_project.OPCODE.values()) <= set(regmap.OPCODES.values())
    # the HLS engine: pooling and add have loops of their own, the convolutions share the MAC
    # array's, the argmax is fused into the logits conv (the generator requires it last)
    hls_loop = {"maxpool2x2": "pool_layer", "add_requant": "add_layer", "conv_bn_relu": "mac_layer",
                "conv1x1_bias": "mac_layer", "conv_transpose2x2": "mac_layer", "argmax": "mac_layer"}
    assert set(hls_loop) == set(layout.STEP_KINDS)
    for kind, fn in hls_loop.items():
        assert re.search(rf"inline void {fn}\(", engine) and f"{fn}(L, amem0, amem1" in hls_top, kind
    assert "if (L.op == OP_MAXPOOL)" in hls_top and "else if (L.op == OP_ADD)" in hls_top
    assert "if (fz) {  // the argmax" in engine
    declared = dict((code, local) for local, code in re.findall(r"OP_(\w+) = \{\{ opcodes\.(\w+) \}\}", core))
    for kind, code in rtl_project.OPCODE.items():
        name = next(k for k, v in regmap.OPCODES.items() if v == code)
        assert name in declared, (kind, name)
        assert re.search(rf"\(op == OP_{declared[name]}\)", core), (kind, name)


def _ir_with(net: IR, name: str, **change) -> IR:
    """A copy of net with layer `name` changed (attrs/params/inputs), validated on the way."""
    layers = []
    for lay in net.layers:
        if lay.name == name:
            lay = Layer(lay.name, lay.op, tuple(change.get("inputs", lay.inputs)), lay.output,
                        MappingProxyType({**lay.attrs, **change.get("attrs", {})}),
                        MappingProxyType({**lay.params, **change.get("params", {})}))
        layers.append(lay)
    arrays = {**net.arrays, **change.get("arrays", {})}
    return IR(net.name, net.input, net.tensors, tuple(layers), net.logits, net.classes,
              MappingProxyType(arrays), net.meta)


@pytest.fixture(scope="module")
def residual():
    print("seed", SEED)
    return randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED, residual=True)


@pytest.mark.parametrize("change, message", [
    (dict(attrs={"acc_bits": 9}), "below the worst case 10"),
    (dict(attrs={"lo": -1}), "do not fit the output type"),
    (dict(attrs={"kernel": 3}), "attrs.kernel is not an attribute of add"),
    (dict(arrays={"bottleneck.res.add.shift": np.full(8, 9, np.int32)}), "but the scales say"),
    (dict(arrays={"bottleneck.res.add.shift": np.full(8, 1, np.int64)}), "expected int32"),
    (dict(inputs=("bottleneck.1.bn",)), "inputs has 1 entries, add takes 2"),
    (dict(inputs=("bottleneck.1.bn", "pool0")), "add inputs"),
])
def test_add_validation_names_the_field(residual, change, message):
    from unetaccel.ir.validation import validate
    validate(residual)
    with pytest.raises(IRError, match=re.escape(message)):
        validate(_ir_with(residual, "bottleneck.res.add", **change))


def test_unknown_op_lists_the_registry():
    from unetaccel.ir.validation import validate
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    bad = _ir_with(net, "pool0")
    bad = IR(bad.name, bad.input, bad.tensors,
             tuple(Layer(x.name, "resize" if x.name == "pool0" else x.op, x.inputs, x.output, x.attrs, x.params)
                   for x in bad.layers), bad.logits, bad.classes, bad.arrays)
    with pytest.raises(IRError, match="op 'resize' is not supported .*add"):
        validate(bad)


@pytest.mark.parametrize("bits, signed", [(8, False), (8, True), (4, False)])
@pytest.mark.parametrize("cin, k, wbits", [(3, 3, 5), (1, 1, 2), (128, 3, 5), (7, 1, 8)])
def test_conv_width_is_tight(bits, signed, cin, k, wbits):
    """The worst case is reached (extreme weights on extreme codes: +|lo| * wmax for signed codes)
    and needs exactly the width."""
    t = QType(bits, signed, 0)
    x = np.full((1, cin, k, k), t.lo if signed else t.hi, np.int64)
    w = np.full((1, cin, k, k), -O.weight_max(wbits) if signed else O.weight_max(wbits), np.int64)
    acc = int(R.conv2d(x, w, (k - 1) // 2)[0, 0, k // 2, k // 2])
    need = O.conv_acc_bits(t, cin, k, wbits)
    assert -(1 << (need - 1)) <= acc < (1 << (need - 1))
    assert not (-(1 << (need - 2)) <= acc < (1 << (need - 2)))  # one bit fewer would not hold it


def test_add_and_bn_widths_are_tight():
    u8 = QType(8, False, 0)
    assert O.add_acc_bits(u8, u8) == 10  # 510 needs 10 signed bits, 9 hold 255 only
    acc = QType(20, True, (0,))
    mul, bias = np.array([-100, 3]), np.array([7, -2 ** 20])
    worst = (1 << 19) * 100 + 2 ** 20
    assert O.bn_prod_bits(acc, mul, bias) == worst.bit_length() + 1


def test_summary_costs_come_from_the_registry():
    net = randnet.random_unet(seed=0)  # the default network's shape
    rows = summary(net, (8, 8))
    assert sum(r["macs"] for r in rows) == 48_496_640  # the README's real MACs
    assert sum(r["macs"] for r in rows) == O.total_macs(net)
    # every layer fills 8x8 lanes but the first conv (3 input channels: 4096 x 9 cycles, 13,824 ideal)
    # and the head (21 classes in 3 groups of 8: 12,288 cycles, 10,752 ideal)
    assert sum(r["ideal_cycles"] for r in rows) == 48_496_640 // 64 + (36_864 - 13_824) + (12_288 - 10_752)
    for r, lay in zip(rows, net.layers):
        assert r["ideal_cycles"] == O.ideal_cycles(net, lay, (8, 8))
        assert r["acc_bits"] == lay.attrs.get(OPS_SPEC[lay.op].width_attr)
