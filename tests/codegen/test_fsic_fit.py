"""codegen.fsic_fit: the accelerator's block RAM and DSP48E1 against what FSIC's board leaves of the
xc7z020, and the shape `generate` names when a lane shape does not fit."""
import pytest

from unetaccel.codegen import fsic_fit as F
from unetaccel.ir import randnet


@pytest.mark.parametrize("width,depth,parity,want", [
    (64, 16384, False, 32),   # 2 x 16K a RAMB36: 32
    (320, 1024, True, 9),     # a weight bank at 8x8: 9 x 36 bits x 1K
    (320, 418, True, 4.5),    # 418 words: 9 RAMB18 of 36 x 512
    (32, 896, True, 1),       # the layer table: 36 x 1K, or two 18 x 1K RAMB18
    (128, 6144, False, 24),   # an activation bank at 16x16: 4 x 32 bits x 1K, 6 deep
    (128, 6144, True, 22.5),  # with the parity bits: 15 x 9 bits x 2K, 3 deep, RAMB18
    (1, 1, True, 0.5),
])
def test_block_ram_rule(width, depth, parity, want):
    assert F.bram(width, depth, parity) == want


@pytest.fixture(scope="module")
def default_net():
    return randnet.random_unet(seed=0)  # the default network's shapes (the weights do not matter)


def test_needs_match_yosys(default_net):
    """The estimate agrees with Yosys synth_xilinx on the default network (README's RTL area table:
    96 RAMB36E1 + 9 RAMB18E1 and 80 DSP48E1 at 8x8; 121 RAMB36E1 and 160 DSP48E1 at 16x16 dsp2)."""
    assert F.needs(default_net, (8, 8), "dsp") == {"RAMB36": 100.5, "DSP48E1": 80}
    assert F.needs(default_net, (16, 16), "dsp2") == {"RAMB36": 121, "DSP48E1": 160}
    assert F.needs(default_net, (16, 16), "dsp")["DSP48E1"] == 288


def test_budget_is_the_part_less_fsic():
    b = F.budget()
    assert b["RAMB36"] == 140 - F.FSIC_USE["RAMB36"] - F.FSIC_MARGIN["RAMB36"]
    assert b["DSP48E1"] == 220 - F.FSIC_USE["DSP48E1"] - F.FSIC_MARGIN["DSP48E1"]
    assert 0 < b["LUT"] < 53200 and F.FSIC_USE["LUT"] > 0 and F.FSIC_USE["RAMB36"] > 0


def test_a_shape_that_fits_says_nothing(default_net):
    fit = F.fsic_fit(default_net, (8, 8), "dsp")
    assert fit["over"] == [] and fit["suggest"] is None and F.message(fit) == ""


def test_a_shape_beyond_the_budget_names_it_and_one_that_fits(default_net):
    fit = F.fsic_fit(default_net, (32, 32), "dsp")
    assert any("DSP48E1 of the" in o for o in fit["over"]), fit
    (pin, pout), mult = fit["suggest"]
    n = F.needs(default_net, (pin, pout), mult)
    assert all(n[k] <= fit["budget"][k] for k in n)
    # nothing with more lanes fits
    for p in F.SUPPORTED_LANES:
        for q in F.SUPPORTED_LANES:
            if p * q > pin * pout:
                assert any(F.needs(default_net, (p, q), m)[k] > fit["budget"][k] for m in F.MULTS
                           for k in ("RAMB36", "DSP48E1")), (p, q)
    text = F.message(fit)
    assert text.startswith("at 32x32 lanes (--mult dsp) the accelerator needs ")
    assert f"RAMB36, {fit['budget']['DSP48E1']} DSP48E1," in text and f"--lanes {pin}x{pout} --mult {mult} fits" in text


def test_when_fsic_leaves_too_little_a_smaller_shape_is_named(default_net, monkeypatch):
    """With FSIC taking all but 40 DSP48E1, 8x8's 80 do not fit; the suggestion (16x4 with dsp2: 40) fits.
    The block RAM does not shrink with fewer lanes (narrower words, padded groups): when it is short
    no shape fits, and the message says a smaller network is needed."""
    left = 40
    monkeypatch.setitem(F.FSIC_USE, "DSP48E1", F.PART["DSP48E1"] - F.FSIC_MARGIN["DSP48E1"] - left)
    fit = F.fsic_fit(default_net, (8, 8), "dsp")
    assert fit["over"] == [f"80 DSP48E1 of the {left} left"]
    (pin, pout), mult = fit["suggest"]
    n = F.needs(default_net, (pin, pout), mult)
    assert n["DSP48E1"] <= left and n["RAMB36"] <= fit["budget"]["RAMB36"] and pin * pout <= 64
    assert ((pin, pout), mult) != ((8, 8), "dsp")
    assert min(F.needs(default_net, (p, q))["RAMB36"] for p in F.SUPPORTED_LANES for q in F.SUPPORTED_LANES) \
        == F.needs(default_net, (8, 8))["RAMB36"]
    monkeypatch.setitem(F.FSIC_USE, "RAMB36", F.PART["RAMB36"] - F.FSIC_MARGIN["RAMB36"] - 60)
    fit = F.fsic_fit(default_net, (8, 8), "dsp")
    assert fit["suggest"] is None and "no lane shape fits: a smaller network is needed" in F.message(fit)
