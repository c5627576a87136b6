"""The layout every emitter shares: the step plan, the buffer allocator, lane groups, packers.

`plan` fuses the IR's layers into kernel steps (conv+BatchNorm, pooling, transposed conv, the
logits conv, argmax); `allocate` lays activation tensors into reusable buffers from their
lifetimes (the HLS project's arrays); `place` gives every tensor an offset in one memory from
their lifetimes (the RTL's activation memory); the packers put weights and per-channel
parameters into lane words. The HLS project and the RTL both use these, so both see one
schedule and one weight layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnetaccelError
from ..ir.graph import IR, IRError


@dataclass
class Step:
    kind: str
    name: str
    desc: str
    cfg: str
    consts: list
    acc_bits: int = 0
    prod_bits: int = 0
    inputs: tuple = ()          # IR activation tensors read (a concat is listed as its parts)
    output: str = ""            # IR tensor written
    traces: list = field(default_factory=list)
    # filled by generate_hls: the arrays a kernel call takes, its ROMs, exact types, geometry
    x0: str = ""
    x1: str = ""
    y: str = ""
    roms: dict = field(default_factory=dict)
    types: list = field(default_factory=list)
    geom: tuple = ()
    layers: tuple = ()          # the IR layers the step covers (a conv and its BatchNorm)


@dataclass
class Slot:
    size: int = 0
    tensors: list = field(default_factory=list)
    free_after: int = -2


#: The FPGA of FSIC's board (PYNQ-Z2): the default part of run_hls.tcl and vivado.tcl.
BOARD_PART = "xc7z020clg400-1"

#: What the parts we know offer (Xilinx DS190), by device name (a part name starts with it):
#: generate warns when a lane shape's estimate needs more. Another part is not checked.
PART_RESOURCES = {
    "xc7z007s": {"RAMB36": 50, "DSP48E1": 66, "LUT": 14400},
    "xc7z010": {"RAMB36": 60, "DSP48E1": 80, "LUT": 17600},
    "xc7z020": {"RAMB36": 140, "DSP48E1": 220, "LUT": 53200},
}


def part_resources(part: str) -> dict | None:
    """The resources of a known part (PART_RESOURCES), else None."""
    for device, res in PART_RESOURCES.items():
        if part.lower().startswith(device):
            return res
    return None


def over_part(needs: dict, part: str) -> list[str]:
    """'N RAMB36 of the part's M' for each resource of `needs` beyond the part's (empty: it fits,
    or the part is not one we know)."""
    have = part_resources(part)
    if have is None:
        return []
    return [f"{needs[k]:g} {k} of the part's {have[k]:,}" for k in have if k in needs and needs[k] > have[k]]

#: PIN and POUT (input and output channel lanes) the generators take: powers of two, so lane
#: groups and word slices are shifts and masks in the RTL and the HLS kernels.
SUPPORTED_LANES = (2, 4, 8, 16, 32)


class LanesError(UnetaccelError, ValueError):
    """Lanes that the generators cannot build; the message names them and the allowed values."""


def check_lanes(lanes) -> tuple[int, int]:
    """The one lane rule (`--lanes PINxPOUT` of generate, csim and rtlsim, the HLS project and the
    RTL alike): PIN and POUT each from SUPPORTED_LANES; returns them or raises LanesError."""
    pin, pout = (int(v) for v in lanes)
    if pin not in SUPPORTED_LANES or pout not in SUPPORTED_LANES:
        raise LanesError(f"--lanes {pin}x{pout}: PIN and POUT are each one of "
                         f"{', '.join(map(str, SUPPORTED_LANES))} (powers of two), e.g. 8x8 or 4x16")
    return pin, pout


#: The step kinds (kernels) every generator implements, and the IR ops each one covers.
STEP_KINDS = {"conv_bn_relu": ("conv2d", "batchnorm"), "conv1x1_bias": ("conv2d",),
              "conv_transpose2x2": ("conv_transpose2d",), "maxpool2x2": ("maxpool2d",),
              "add_requant": ("add",), "argmax": ("argmax",)}


def plan(ir: IR):
    """Fuse the IR into kernel steps (STEP_KINDS); a concat becomes the two sources of the conv
    that reads it. Raises IRError naming a layer the generators cannot map."""
    concat_of: dict[str, tuple[str, ...]] = {}
    fused_bn: set[str] = set()
    steps: list[Step] = []
    T = ir.tensors
    for lay in ir.layers:
        where = f"layer '{lay.name}' ({lay.op})"
        if lay.name in fused_bn:
            continue
        a = lay.attrs
        if lay.op == "concat":
            cons = ir.consumers(lay.output)
            if len(cons) != 1 or cons[0].op != "conv2d":
                raise IRError(f"{where}: the HLS generator places a concat next to the conv that reads it; "
                              "it must feed exactly one conv2d")
            concat_of[lay.output] = lay.inputs
            continue
        if lay.op == "conv2d" and not lay.requantizes:
            cons = ir.consumers(lay.output)
            if len(cons) != 1 or cons[0].op != "batchnorm":
                raise IRError(f"{where}: an accumulator output must feed exactly one batchnorm (fused conv+BN)")
            bn = cons[0]
            fused_bn.add(bn.name)
            x = lay.inputs[0]
            parts = concat_of.get(x, (x,))
            c0 = T[parts[0]].shape[0]
            c1 = T[parts[1]].shape[0] if len(parts) > 1 else 0
            cout, h, w = T[lay.output].shape
            k, p = int(a["kernel"]), int(a["padding"])
            steps.append(Step("conv_bn_relu", f"{lay.name}+{bn.name}", f"{c0 + c1}->{cout} {h}x{w} k{k}",
                              "", [("CIN0", c0), ("CIN1", c1), ("COUT", cout), ("H", h), ("W", w), ("K", k),
                                   ("PAD", p), ("LO", int(bn.attrs["lo"])), ("HI", int(bn.attrs["hi"]))],
                              acc_bits=int(a["acc_bits"]), prod_bits=int(bn.attrs["prod_bits"]),
                              inputs=tuple(parts), output=bn.output))
            steps[-1].layers = (lay, bn)
            continue
        if lay.op == "conv2d":
            cout, h, w = T[lay.output].shape
            cin = T[lay.inputs[0]].shape[0]
            if int(a["kernel"]) != 1 or "bias" not in lay.params or not T[lay.output].type.signed \
                    or lay.output != ir.logits:
                raise IRError(f"{where}: a requantizing conv2d is supported as the final 1x1 conv with bias "
                              "(the logits) only")
            steps.append(Step("conv1x1_bias", lay.name, f"{cin}->{cout} {h}x{w}", "",
                              [("CIN", cin), ("COUT", cout), ("H", h), ("W", w), ("LO", int(a["lo"])),
                               ("HI", int(a["hi"]))], acc_bits=int(a["acc_bits"]),
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "conv_transpose2d":
            cin, h, w = T[lay.inputs[0]].shape
            cout = T[lay.output].shape[0]
            steps.append(Step("conv_transpose2x2", lay.name, f"{cin}->{cout} {h}x{w} -> {2 * h}x{2 * w}", "",
                              [("CIN", cin), ("COUT", cout), ("H", h), ("W", w), ("LO", int(a["lo"])),
                               ("HI", int(a["hi"]))], acc_bits=int(a["acc_bits"]),
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "maxpool2d":
            c, h, w = T[lay.inputs[0]].shape
            steps.append(Step("maxpool2x2", lay.name, f"{c} {h}x{w}", "", [("C", c), ("H", h), ("W", w)],
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "argmax":
            k, h, w = T[lay.inputs[0]].shape
            steps.append(Step("argmax", lay.name, f"{k} classes {h}x{w}", "", [("K", k), ("H", h), ("W", w)],
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "add":
            c, h, w = T[lay.output].shape
            steps.append(Step("add_requant", lay.name, f"{c} {h}x{w}", "",
                              [("C", c), ("H", h), ("W", w), ("LO", int(a["lo"])), ("HI", int(a["hi"]))],
                              acc_bits=int(a["acc_bits"]), inputs=tuple(lay.inputs), output=lay.output))
        else:
            raise IRError(f"{where}: op {lay.op} is not supported by the generators")
        steps[-1].layers = (lay,)
    for i, s in enumerate(steps):
        s.cfg = f"cfg_{i}"
    return steps


def allocate(ir: IR, steps: list[Step], size_of=None):
    """Activation buffers from tensor lifetimes: a tensor lives from the step that writes it
    to the last step that reads it; buffers are reused greedily (ping-pong + skip storage).
    The logits and the class map have buffers of their own. `size_of(shape)` is a tensor's
    size in memory units (default: elements)."""
    slots: list[Slot] = []
    where: dict[str, int] = {}
    for t, (start, end) in lifetimes(ir, steps).items():
        if t in (ir.logits, ir.classes):
            continue
        shape = ir.tensors[t].shape
        size = int(size_of(shape)) if size_of else int(np.prod(shape))
        k = next((i for i, sl in enumerate(slots) if sl.free_after < start), len(slots))  # first free slot
        if k == len(slots):
            slots.append(Slot())
        sl = slots[k]
        sl.size = max(sl.size, size)
        sl.tensors.append(t)
        sl.free_after = end
        where[t] = k
    return slots, where


def fused_argmax(ir: IR, steps: list[Step]) -> int | None:
    """The index of the logits conv when the RTL fuses the argmax into it (the last step is the
    argmax of the logits the step before writes): in whole-network mode that conv also writes the
    class map (the argmax step never runs), so the class map is written in the conv's step, and
    it shares the logits' words (a run writes one or the other). None when the plan ends otherwise."""
    if (len(steps) >= 2 and steps[-1].kind == "argmax" and steps[-1].inputs == (ir.logits,)
            and steps[-2].kind == "conv1x1_bias" and steps[-2].output == ir.logits
            and steps[-1].output == ir.classes):
        return len(steps) - 2
    return None


def lifetimes(ir: IR, steps: list[Step]) -> dict[str, tuple[int, int]]:
    """{tensor: (first, last)} step indices, both inclusive, of every tensor a step reads or
    writes: from the step that writes it (the input: -1, before step 0) to the last step that
    reads it; the logits and the class map live to the end (len(steps)), as either is streamed
    out after the last step. A step's output lives from that step, its inputs at least to it:
    the two always overlap. With the argmax fused (fused_argmax()) the class map lives from the
    logits conv's step, which writes it."""
    end = len(steps)
    life = {ir.input: (-1, -1)}
    for i, s in enumerate(steps):
        for t in s.inputs:
            if t not in life:
                raise IRError(f"step '{s.name}' reads '{t}', which no earlier step writes")
            life[t] = (life[t][0], i)
        life[s.output] = (i, i)
    head = fused_argmax(ir, steps)
    if head is not None:
        life[ir.classes] = (head, head)
    for t in (ir.logits, ir.classes):
        if t in life:
            life[t] = (life[t][0], end)
    return life


def shared_words(ir: IR, steps: list[Step]) -> dict[str, str]:
    """{tensor: the tensor whose words it shares}: with the argmax fused (fused_argmax()) the class
    map lies at the start of the logits' words. No run writes both (whole-network mode writes the
    class map, or the logits in logits mode), and the argmax step alone (single-layer mode) reads
    a pixel's logits before it writes that pixel's class, whose word only that pixel reads."""
    return {ir.classes: ir.logits} if fused_argmax(ir, steps) is not None else {}


def place(ir: IR, steps: list[Step], size_of) -> tuple[dict[str, int], int]:
    """Offsets of every tensor in one memory (the RTL's activation memory): ({tensor: offset},
    depth). Two tensors whose lifetimes (lifetimes()) overlap get disjoint ranges, so a step's
    output never overlaps its inputs; the others may share. Greedy by size like TFLite's arena
    planner: largest first, each at the lowest offset where it overlaps none of the tensors
    already placed that are live with it; tensors of one size are taken in each of PLACE_ORDERS
    and the shallowest placement is kept (the first on a tie). `size_of(shape)` is a tensor's
    size in memory units. A tensor of shared_words() takes the offset of the one it shares with
    (a class map is never larger than its logits). Deterministic; the depth is at least place_bound()."""
    life = lifetimes(ir, steps)
    alias = shared_words(ir, steps)
    size = {t: int(size_of(ir.tensors[t].shape)) for t in life}
    own = {t: life[t] for t in life if t not in alias}
    placements = []
    for order in PLACE_ORDERS.values():
        offset = _place_greedy(own, size, order)
        offset.update({t: offset[u] for t, u in alias.items()})
        placements.append(({t: offset[t] for t in life}, max((offset[t] + size[t] for t in life), default=0)))
    return min(placements, key=lambda p: p[1])  # the first of the shallowest


#: The orders place() tries among tensors of one size, keys of (first step, last step).
PLACE_ORDERS = {"first written": lambda a, b: (a, b), "last written": lambda a, b: (-a, -b),
                "longest lived": lambda a, b: (a - b, a)}


def _place_greedy(life: dict, size: dict, order) -> dict[str, int]:
    offset: dict[str, int] = {}
    for t in sorted(life, key=lambda t: (-size[t], *order(*life[t]))):
        start, end = life[t]
        busy = sorted((offset[u], offset[u] + size[u]) for u in offset
                      if life[u][0] <= end and start <= life[u][1])  # lifetimes overlap
        at = 0
        for lo, hi in busy:
            if lo >= at + size[t]:
                break
            at = max(at, hi)
        offset[t] = at
    return offset


def place_bound(ir: IR, steps: list[Step], size_of) -> int:
    """The lower bound of any placement's depth: the largest sum of the sizes of the tensors
    live at one step (lifetimes()), a tensor sharing another's words (shared_words()) not counted."""
    alias = shared_words(ir, steps)
    life = {t: v for t, v in lifetimes(ir, steps).items() if t not in alias}
    sizes = {t: int(size_of(ir.tensors[t].shape)) for t in life}
    return max(sum(sizes[t] for t, (a, b) in life.items() if a <= i <= b) for i in range(-1, len(steps) + 1))


def groups(channels: int, lanes: int) -> int:
    return -(-int(channels) // int(lanes))


def pack_act(x: np.ndarray, pin: int) -> np.ndarray:
    """C x H x W -> the kernels' activation words [ceil(C/PIN) * H * W][PIN] (padding lanes 0)."""
    c, h, w = x.shape
    g = groups(c, pin)
    out = np.zeros((g * pin, h * w), dtype=np.int64)
    out[:c] = np.asarray(x).reshape(c, h * w)
    return out.reshape(g, pin, h * w).transpose(0, 2, 1).reshape(g * h * w, pin)


def unpack_act(words: np.ndarray, c: int, h: int, w: int, pin: int) -> np.ndarray:
    """The inverse of pack_act."""
    g = groups(c, pin)
    x = np.asarray(words).reshape(g, h * w, pin).transpose(0, 2, 1).reshape(g * pin, h * w)
    return x[:c].reshape(c, h, w)


def pack_conv(weight: np.ndarray, cin0: int, pin: int, pout: int) -> np.ndarray:
    """conv weights COUT x CIN x K x K (input channels cin0 from x0, the rest from x1) ->
    [NOG * NCG * K * K][PIN * POUT]: word (og * NCG + ig) * K*K + tap, lane po * PIN + pi;
    input groups 0..NG0-1 are x0's, then x1's (each part padded to whole groups)."""
    cout, cin, k, _ = weight.shape
    cin1 = cin - cin0
    ng0, ng1, nog = groups(cin0, pin), groups(cin1, pin), groups(cout, pout)
    padded = np.zeros((nog * pout, (ng0 + ng1) * pin, k * k), dtype=np.int64)
    wt = np.asarray(weight, dtype=np.int64).reshape(cout, cin, k * k)
    padded[:cout, :cin0] = wt[:, :cin0]
    padded[:cout, ng0 * pin:ng0 * pin + cin1] = wt[:, cin0:]
    # (og, po, ig, pi, t) -> (og, ig, t, po, pi)
    p = padded.reshape(nog, pout, ng0 + ng1, pin, k * k).transpose(0, 2, 4, 1, 3)
    return p.reshape(nog * (ng0 + ng1) * k * k, pout * pin)


def pack_convt(weight: np.ndarray, pin: int, pout: int) -> np.ndarray:
    """transposed-conv weights CIN x COUT x 2 x 2 -> [NOG * 4 * NCG][PIN * POUT]:
    word (og * 4 + phase) * NCG + ig, phase = dy * 2 + dx, lane po * PIN + pi (the one word
    order of the HLS ROM and the RTL weight memory)."""
    cin, cout = weight.shape[:2]
    ncg, nog = groups(cin, pin), groups(cout, pout)
    padded = np.zeros((ncg * pin, nog * pout, 4), dtype=np.int64)
    padded[:cin, :cout] = np.asarray(weight, dtype=np.int64).reshape(cin, cout, 4)
    # (ig, pi, og, po, ph) -> (og, ph, ig, po, pi)
    p = padded.reshape(ncg, pin, nog, pout, 4).transpose(2, 4, 0, 3, 1)
    return p.reshape(nog * 4 * ncg, pout * pin)


def pack_channels(v, cout: int, pout: int) -> np.ndarray:
    """per-output-channel values -> [ceil(COUT/POUT)][POUT] (padding 0)."""
    out = np.zeros(groups(cout, pout) * pout, dtype=np.int64)
    out[:cout] = np.asarray(v, dtype=np.int64).ravel()
    return out.reshape(-1, pout)


def max_weight_bits(ir: IR) -> int:
    """The widest weight of the network (5 for W5A8): CONFIG's weight_bits, the RTL's weight lanes."""
    return max((int(lay.attrs["weight_bits"]) for lay in ir.layers if "weight_bits" in lay.attrs), default=2)


