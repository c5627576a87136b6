"""unet_core, the engine, as the cocotb toplevel on its own (testbench
unetaccel.rtl_sim.tb_core): whole network, each layer-table row alone, rejected
configurations and recovery; under Verilator and under Icarus (four-state: no X may reach
the output stream)."""
import pytest

from unetaccel.rtl_sim.runner import run_unit


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_engine_alone(small, simulator):
    p, build, imgs = small
    failures = run_unit(p, build, "unet_core", ["unet_core.sv"], "unetaccel.rtl_sim.tb_core", images=imgs[:2],
                        simulator=simulator)
    assert failures == [], failures
