"""The HLS estimate (codegen.hls_model): the block RAM rule on hand-computed arrays, and the model of a
generated project read back from its sources (trip counts from the layer table, memory sizes
from the declarations, multipliers = PIN x POUT + POUT)."""
import re

import pytest

from unetaccel.codegen import hls_model as M
from unetaccel.codegen.hls_project import LTAB_FIELDS, emit_hls
from unetaccel.ir import randnet

SEED = 61


@pytest.mark.parametrize("width,depth,rom,want", [
    (8, 16384, False, 8),    # 2K x 9 a RAMB18: 8 of them
    (8, 2048, False, 1),
    (10, 2048, False, 2),    # 10 bits at 2K deep: two 2K x 9
    (36, 512, False, 1),     # the simple dual-port RAM's widest aspect
    (36, 512, True, 2),      # a ROM on one port reaches 18 bits: two 512 x 18 (1K x 18)
    (320, 7586, True, 144),  # 18 x 1K x 18 wide, 8 deep (or 36 x 2K x 9, 4 deep)
    (1, 16385, False, 2),    # one word past 16K x 1
    (0, 10, False, 0),
])
def test_ramb18_rule(width, depth, rom, want):
    assert M.ramb18(width, depth, rom) == want


def _config(text: str, name: str) -> int:
    return int(re.search(rf"\b{name} = (\d+)", text).group(1))


@pytest.mark.parametrize("lanes", [(4, 8), (8, 8), (16, 16)])
def test_estimate_reads_like_the_generated_sources(lanes):
    print("seed", SEED)
    net = randnet.random_unet(widths=(4, 8, 16), num_classes=3, size=(16, 24), seed=SEED)
    files = emit_hls(net, lanes)
    est = M.estimate(net, lanes)
    pin, pout = lanes
    # one loop a layer step, the argmax fused: trip counts = the generated table's `iters`
    body = files["unet_weights.cpp"].split("const layer_t LTAB[NUM_LAYERS] = {", 1)[1].split("};", 1)[0]
    iters = [int(r.split(",")[LTAB_FIELDS.index("iters")]) for r in re.findall(r"\{([^{}]*)\},", body)]
    assert [lp.trips for lp in est.loops[1:-1]] == iters[:-1] and iters[-1] == 0
    assert est.loops[0].trips == 3 * 16 * 24 and est.loops[-1].trips == -(-16 * 24 // min(max(lanes), 4))
    assert est.cycles == sum(lp.trips + lp.depth + lp.setup for lp in est.loops)
    assert all(lp.ii == 1 for lp in est.loops)
    # the memories as declared
    cfg = files["unet_config.h"]
    mem = {m.name: m for m in est.memories}
    act = _config(cfg, "ACT_WORDS")
    assert mem["amem0"].depth == (act + 1) // 2 and mem["amem1"].depth == act // 2
    assert mem["amem0"].count == max(lanes) and mem["amem0"].width == 8
    assert mem["WROM"].depth == _config(cfg, "W_WORDS")
    assert mem["WROM"].width == _config(cfg, "WW") * _config(cfg, "WWORD_BITS") >= pin * pout * 5
    assert mem["PMUL"].depth == _config(cfg, "P_WORDS") and mem["PMUL"].count == pout
    layer_t = cfg.split("struct layer_t {", 1)[1].split("};", 1)[0]
    fields = sum(len(ln.split("//")[0].split(";")[0].split(",")) for ln in layer_t.splitlines()
                 if ln.strip().startswith(("int ", "word_t ")))
    assert mem["LTAB"].width == 32 * fields and mem["LTAB"].depth == _config(cfg, "NUM_LAYERS")
    assert "HLS BIND_STORAGE variable=PMUL type=rom_1p impl=lutram" in files["unet_top.cpp"]
    assert est.ramb36 == sum(m.ramb18 for m in est.memories) / 2 > 0
    assert est.multiplier_count == pin * pout + pout
    md = M.markdown(est)
    assert f"**{est.cycles:,}**" in md and f"**{est.ramb36:g} RAMB36**" in md and files["README.md"].count(md) == 1


def test_engine_has_no_other_multipliers():
    """The model counts the MAC array and the BatchNorm products: every other `*` in the engine's
    synthesized code is a constant (a lane index after unrolling), a power of two (a shift) or in
    the C-simulation trace."""
    from unetaccel.codegen.render import TEMPLATE_DIR
    src = (TEMPLATE_DIR / "hls_project" / "unet_engine.h.j2").read_text()
    src = re.sub(r"#ifdef UNET_TRACE.*?#endif", "", src, flags=re.S)
    code = [ln.split("//")[0] for ln in src.splitlines() if not ln.strip().startswith("//")]
    products = [ln.strip() for ln in code if re.search(r"[\w\)\]] \* [\w\(]", ln)]
    allowed = ("lane * WEIGHT_BITS", "og * POUT", "2 * x", "po * PIN")
    real = [p for p in products if not any(a in p for a in allowed) or "unpack_weight(wv" in p or "prod_t(acc" in p]
    assert len(real) == 2, real
    assert "unpack_weight(wv, po * PIN + pi) * a[pi]" in real[0] and "prod_t(acc[po]) * prod_t(mul_t(" in real[1]
