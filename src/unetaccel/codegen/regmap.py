"""The AXI-Lite register map (docs/registers.md): the single source of truth.

Offsets, field positions and widths, access (which bits a write keeps), reset values, op
codes, error codes and the parameter-load regions live here and nowhere else. It renders the
Verilog register constants, write masks and field slices (codegen.rtl_project), the C header
of the HLS project and of the RTL output (c_header(), for firmware too) and the Markdown
table (markdown()); the generators and the testbenches build and decode register words with
pack() / unpack() and take the writable bits from write_mask(). Nothing else spells an offset
or a bit position.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.ops import MAX_SHIFT

ID_VALUE = 0x554E4554  # "UNET" in ASCII, 'U' in the top byte
VERSION_VALUE = 0x00010001  # major.minor as 16.16 (1.1: PIN x POUT lanes, packed weight words)
FSIC_BASE = 0x3000_0000
ADDR_BITS = 12


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str = ""
    access: str | None = None  # None: the register's; "ro" for a status bit of a writable register
    reset: int = 0

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    @property
    def msb(self) -> int:
        return self.lsb + self.width - 1


@dataclass(frozen=True)
class Register:
    offset: int
    name: str
    access: str  # "rw", "ro", "w1c", "wo" (data port), "rw/sc" (self-clearing)
    fields: tuple[Field, ...] = ()
    doc: str = ""
    single_layer_only: bool = False


REGISTERS: tuple[Register, ...] = (
    Register(0x000, "CTRL", "rw/sc", (
        Field("ap_start", 0, 1, "write 1 to start (self-clearing; reads 1 while running)"),
        Field("ap_done", 1, 1, "set when a run ends or a start is rejected; stays set until the next accepted start",
              "ro"),
        Field("ap_idle", 2, 1, "engine idle", "ro", reset=1),
        Field("ap_error", 3, 1, "set with ap_done when the run was rejected or aborted", "ro"),
        Field("abort", 5, 1, "write 1 to stop the run at once (self-clearing; reads 0): the engine goes idle "
                             "with ap_done, ap_error and ERROR = aborted, sends no further output, and drops the "
                             "rest of the input frame as it arrives (up to a TLAST or the frame's length, or "
                             "the next start)"),
    ), "control and status"),
    Register(0x004, "GIE", "rw", (Field("enable", 0, 1),), "global interrupt enable"),
    Register(0x008, "IER", "rw", (Field("done", 0, 1),), "done interrupt enable"),
    Register(0x00C, "ISR", "w1c", (Field("done", 0, 1),), "done interrupt status (write 1 to clear); drives the interrupt output"),
    Register(0x010, "DIM", "rw", (Field("width", 0, 16), Field("height", 16, 16)),
             "single layer: the layer's input size; whole network: reads the current layer's"),
    Register(0x020, "KERNEL", "rw", (Field("padding", 0, 16), Field("kernel_size", 16, 16)), "same rule"),
    Register(0x030, "CHANNELS", "rw", (Field("out_channels", 0, 16), Field("in_channels", 16, 16)), "same rule"),
    Register(0x040, "MODE", "rw", (Field("single_layer", 0, 1, "0 whole network, 1 single layer"),
                                   Field("logits", 1, 1, "whole network: 0 stream out the class map, 1 the logits"),
                                   Field("load", 2, 1, "single layer: first take the source tensor (HWC bytes) "
                                                       "from the input stream"),
                                   Field("store", 3, 1, "single layer: then send the output tensor (HWC bytes) "
                                                        "on the output stream")),
             "0 whole network, 1 single layer; stream options"),
    Register(0x044, "OPCODE", "rw", (Field("op", 0, 8),), "op code (single layer)", True),
    Register(0x048, "SRC_BASE", "rw", (Field("addr", 0, 32),), "source base, activation-memory word address", True),
    Register(0x04C, "SKIP_BASE", "rw", (Field("addr", 0, 32),), "skip base, activation-memory word address", True),
    Register(0x050, "DST_BASE", "rw", (Field("addr", 0, 32),), "destination base, activation-memory word address", True),
    Register(0x054, "WGT_BASE", "rw", (Field("addr", 0, 32),),
             "weight base: weight-memory word address (a word holds PIN x POUT weights)", True),
    Register(0x058, "BN_BASE", "rw", (Field("addr", 0, 32),),
             "BatchNorm base: index of the layer's first output-channel group in the "
             "multiplier / bias / shift memories", True),
    Register(0x05C, "QUANT", "rw", (Field("signed", 0, 1, "output range: 0 unsigned [0, 255] (ReLU), "
                                                          "1 signed [-128, 127] (logits)"),
                                    Field("split", 16, 16, "input channels read from the source base; the rest "
                                                           "from the skip base (a concat); 0 = all")),
             "requantize range and concat split (the per-channel shifts are at the BatchNorm base)", True),
    Register(0x060, "LAYER", "ro", (Field("index", 0, 16),), "current layer index"),
    Register(0x064, "NUM_LAYERS", "ro", (Field("count", 0, 16),), "number of layers"),
    Register(0x070, "CYCLES_LO", "ro", (Field("value", 0, 32),), "cycles of the last run, low word"),
    Register(0x074, "CYCLES_HI", "ro", (Field("value", 0, 32),), "cycles of the last run, high word"),
    Register(0x080, "ERROR", "ro", (Field("code", 0, 8),), "why the last start was rejected or aborted"),
    Register(0x084, "STATUS", "w1c", (
        Field("bad_offset", 0, 1, "an access (read or write) to an offset no register has"),
        Field("read_only", 1, 1, "a write to a register without writable bits"),
        Field("load_refused", 2, 1, "a WLOAD_DATA write was refused (as WLOAD_STATUS.refused)"),
        Field("start_busy", 3, 1, "a start written while busy (ignored)"),
        Field("tlast_early", 4, 1, "an input frame had TLAST before its last byte (the frame goes on: a frame "
                                   "may come in several transfers)"),
        Field("tlast_missing", 5, 1, "the beat that completed an input frame had no TLAST"),
    ), "sticky notes of what the bus or the input stream did wrong (write 1 to clear a bit); every access "
       "answers OKAY, so software reads this instead of a bus error"),
    Register(0x0F0, "ID", "ro", (Field("value", 0, 32, reset=ID_VALUE),), 'ID: "UNET" in ASCII'),
    Register(0x0F4, "VERSION", "ro", (Field("value", 0, 32, reset=VERSION_VALUE),), "version (major.minor, 16.16)"),
    Register(0x0F8, "CONFIG", "ro", (Field("pout", 0, 8), Field("pin", 8, 8), Field("weight_bits", 16, 8)),
             "build config: lanes and the weight width"),
    Register(0x100, "WLOAD_ADDR", "rw", (Field("index", 0, 28, "weights: the weight word; other regions: "
                                                              "the entry (one per output channel)"),
                                         Field("region", 28, 4, "0 weights, 1 BatchNorm multipliers, "
                                                                "2 biases, 3 shifts")),
             "run-time parameter load address (RTL; accepted while idle)"),
    Register(0x104, "WLOAD_DATA", "wo", (Field("data", 0, 32),),
             "load data (RTL; ignored while busy): weights take ceil(weight_bits x PIN x POUT / 32) writes a "
             "word, low 32 bits first, then the index advances; the other regions one write an entry (a shift: "
             f"a signed 32-bit integer in [-{MAX_SHIFT}, {MAX_SHIFT}]). A write refused for its index or value "
             "stores nothing and still advances; one while busy is ignored. Both set WLOAD_STATUS.refused"),
    Register(0x108, "WLOAD_STATUS", "ro", (Field("refused", 0, 1, "sticky; cleared by writing WLOAD_ADDR"),),
             "run-time parameter load status (RTL): refused is set when a WLOAD_DATA write was refused (while "
             "busy, an unknown region, an index or part beyond its memory, a shift outside "
             f"[-{MAX_SHIFT}, {MAX_SHIFT}]) and cleared by writing WLOAD_ADDR"),
)

#: Single-layer op codes (0 is never valid: a start with it is rejected).
OPCODES: dict[str, int] = {
    "conv_bn": 1,         # 3x3 conv fused with batchnorm + ReLU + requantize
    "maxpool": 2,         # 2x2 max pooling
    "conv_transpose": 3,  # k2 s2 transposed conv + requantize
    "conv_bias": 4,       # final 1x1 conv with bias, requantized to signed logits
    "argmax": 5,          # class map
    "add": 6,             # residual add of the source and skip tensors + requantize
}

#: Regions of the run-time parameter load path (WLOAD_ADDR[31:28]); their packing is the
#: generated .mem files' (see unetaccel.codegen.rtl_project.load_words).
WLOAD_REGIONS: dict[str, int] = {"weights": 0, "bn_mul": 1, "bn_bias": 2, "shift": 3}

#: Error codes read at 0x080.
ERRORS: dict[str, int] = {
    "none": 0,
    "bad_opcode": 1,
    "bad_kernel": 2,
    "bad_size": 3,
    "bad_channels": 4,
    "bad_address": 5,
    "aborted": 6,
    "bad_mode": 7,  # a mode the core does not implement (the HLS top: single-layer mode)
}


#: What the AXI-Lite slave answers to a refused access (generate's --bus-errors): "okay" (the
#: default: a Zynq general-purpose port turns an error response into an external abort, a SIGBUS in
#: the process), or "slverr". Either way the access is recorded in STATUS.
BUS_ERRORS = ("okay", "slverr")
WRITABLE = ("rw", "rw/sc", "w1c", "wo")  # accesses whose bits a write reaches
WORD_BITS = 32


def by_name(name: str) -> Register:
    for r in REGISTERS:
        if r.name == name:
            return r
    raise KeyError(f"register map: no register {name!r} (registers: {', '.join(r.name for r in REGISTERS)})")


def field(reg: str, name: str) -> Field:
    """The field `name` of register `reg`."""
    r = by_name(reg)
    for f in r.fields:
        if f.name == name:
            return f
    raise KeyError(f"register map: {reg} has no field {name!r} (fields: {', '.join(f.name for f in r.fields)})")


def fields() -> dict[str, dict[str, Field]]:
    """Every field by register and field name (the templates' view: fields.CTRL.ap_start.lsb)."""
    return {r.name: {f.name: f for f in r.fields} for r in REGISTERS}


def access(reg: str, name: str) -> str:
    """The access of one field: its own, else its register's."""
    return field(reg, name).access or by_name(reg).access


def write_mask(name: str) -> int:
    """The bits of register `name` a write reaches (its writable fields; 0 for a read-only one).
    For an "rw" register these are exactly the bits that read back what was written."""
    return sum(f.mask for f in by_name(name).fields if (f.access or by_name(name).access) in WRITABLE)


def writable() -> tuple[str, ...]:
    """The registers a write reaches (a non-zero write_mask()). A write to any other offset, mapped
    or not, changes nothing and sets STATUS.read_only or STATUS.bad_offset; a read of an offset no
    register has reads 0 and sets STATUS.bad_offset. The response is OKAY (SLVERR with the generator's
    bus_errors="slverr": BUS_ERRORS)."""
    return tuple(r.name for r in REGISTERS if write_mask(r.name))


def reset_value(name: str) -> int:
    """The register's value after reset (CONFIG and NUM_LAYERS are the build's, not reset values)."""
    return sum(f.reset << f.lsb for f in by_name(name).fields)


def pack(name: str, **fields: int) -> int:
    """A register word from field values by name, e.g. pack("CONFIG", pin=8, pout=8, weight_bits=5);
    fields not given are 0. A value that does not fit its field is refused."""
    word = 0
    for k, v in fields.items():
        f = field(name, k)
        v = int(v)
        if not 0 <= v < 1 << f.width:
            raise ValueError(f"register map: {name}.{k} = {v} does not fit its {f.width} bits")
        word |= v << f.lsb
    return word


def unpack(name: str, word: int) -> dict[str, int]:
    """The field values of a register word, by name (bits outside the fields are ignored)."""
    word = int(word)
    return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in by_name(name).fields}


def markdown() -> str:
    lines = ["| offset | name | access | fields | meaning |", "|---|---|---|---|---|"]
    for r in REGISTERS:
        fields = ", ".join((f"[{f.msb}:{f.lsb}] {f.name}" if f.width > 1 else f"[{f.lsb}] {f.name}")
                           + (f" ({f.access})" if f.access else "") for f in r.fields)
        lines.append(f"| 0x{r.offset:03X} | {r.name} | {r.access} | {fields} | {r.doc} |")
    lines += ["", "Op codes (single layer): " + ", ".join(f"{k} = {v}" for k, v in OPCODES.items()),
              "", "Error codes (0x080): " + ", ".join(f"{k} = {v}" for k, v in ERRORS.items())]
    return "\n".join(lines) + "\n"


def c_header(banner: str) -> str:
    """unet_regmap.h: every constant() as a #define, for the RTL output and
    firmware (the C view of this description)."""
    lines = [f"// {banner}",
             "// The AXI-Lite register map, rendered from unetaccel.codegen.regmap (the single source",
             "// of truth shared with the RTL and the firmware). FSIC sees the user project at",
             f"// UNET_FSIC_BASE with a {ADDR_BITS}-bit offset.",
             "#ifndef UNET_REGMAP_H",
             "#define UNET_REGMAP_H", ""]
    for name, value, doc in constants():
        lines.append(f"#define {name:<36s} 0x{value:08X}u" + (f"  /* {doc} */" if doc else ""))
    return "\n".join(lines) + "\n\n#endif\n"


def constants(prefix: str = "UNET_") -> list[tuple[str, int, str]]:
    """(NAME, value, comment) for every register, field mask/shift, op code and error code:
    the list the C, firmware and Verilog templates render."""
    out = []
    for r in REGISTERS:
        out.append((f"{prefix}REG_{r.name}", r.offset, r.doc))
        for f in r.fields:
            out.append((f"{prefix}{r.name}_{f.name.upper()}_SHIFT", f.lsb, f.doc))
            out.append((f"{prefix}{r.name}_{f.name.upper()}_MASK", f.mask, ""))
    for k, v in OPCODES.items():
        out.append((f"{prefix}OP_{k.upper()}", v, "op code"))
    for k, v in ERRORS.items():
        out.append((f"{prefix}ERR_{k.upper()}", v, "error code"))
    for k, v in WLOAD_REGIONS.items():
        out.append((f"{prefix}WLOAD_{k.upper()}", v, "parameter load region"))
    out += [(f"{prefix}ID_VALUE", ID_VALUE, '"UNET"'), (f"{prefix}VERSION_VALUE", VERSION_VALUE, ""),
            (f"{prefix}FSIC_BASE", FSIC_BASE, "user project base as seen from the FSIC SoC")]
    return out
