"""The whole chip (issue 12): Caravel with our firmware (BUILD/fsic/firmware/main.c and the driver)
on its VexRiscv management core, FSIC as the user area with our USER_PRJ0 in slot 0, FSIC's
FPGA-side model on the mprj_io pads. The firmware brings the serial link up, starts two
inferences, waits for the first by polling and for the second on the user interrupt, and reports
each through FSIC's mailbox; the class maps arriving at the FPGA side equal the reference, and the
cycle counts the firmware read equal the accelerator's own. Icarus (four-state); a few minutes,
most of them the management core fetching its code from the SPI flash model."""
from unetaccel.codegen import regmap
from unetaccel.fsic import system


def test_firmware_runs_two_inferences(fsic_small):
    ir_path, build, imgs = fsic_small
    chip = system.Chip(ir_path, build, images=2, wait_irq=2)
    res = chip.network(imgs[:2])
    assert len(res) == 2
    for r in res:
        assert r["mismatches"] == 0, r
        assert r["status"] == "UNET_OK" and r["error"] == regmap.ERRORS["none"], r
        assert r["cycles"] == r["rtl_cycles"] > 0, r
