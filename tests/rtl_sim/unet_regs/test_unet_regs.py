"""unet_regs, the register block, as the cocotb toplevel on its own (testbench
unetaccel.rtl_sim.tb_regs): identity, read/write masks, start/done/interrupt, cycles,
geometry read-back and the parameter-load path."""
from unetaccel.rtl_sim.runner import run_unit


def test_register_block_alone(small):
    p, build, _ = small
    failures = run_unit(p, build, "unet_regs", ["unet_regs.sv"], "unetaccel.rtl_sim.tb_regs")
    assert failures == [], failures
