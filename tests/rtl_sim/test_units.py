"""Unit testbenches: each RTL module as the cocotb toplevel on its own (tb_regs, tb_core)."""
from unetaccel.rtl_sim.runner import run_unit


def test_register_block_alone(small):
    p, build, _ = small
    failures = run_unit(p, build, "unet_regs", ["unet_regs.v"], "unetaccel.rtl_sim.tb_regs")
    assert failures == [], failures


def test_engine_alone(small):
    p, build, imgs = small
    failures = run_unit(p, build, "unet_core", ["unet_core.v"], "unetaccel.rtl_sim.tb_core", images=imgs[:2])
    assert failures == [], failures
