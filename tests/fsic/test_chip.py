"""The whole chip (issues 12, 23): Caravel with our firmware (BUILD/fsic/firmware/main.c and the driver)
on its VexRiscv management core, FSIC as the user area with our USER_PRJ0 in slot 0, FSIC's
FPGA-side model on the mprj_io pads. The firmware brings the serial link up, starts the
inferences one after the other, waits for each as its wait pattern says (the user interrupt or
polling) and reports each through FSIC's mailbox: the class maps arriving at the FPGA side equal
the reference, and every wait ended with its run (status UNET_OK, the cycles the firmware read
are the accelerator's own count, and the report reached the FPGA side after the run ended and
after its last output word). Icarus (four-state); minutes, most of them the management core
fetching its code from the SPI flash model: the network is conftest.py's small one."""
from unetaccel.codegen import regmap
from unetaccel.fsic import system

#: The FPGA side sends each image this many cycles after the firmware asked for it, so that the
#: run is still in progress when the firmware begins to wait (without it the small network's run
#: ends while the firmware still fetches the wait's code from the flash, and an early return
#: would go unseen).
DELAY = 10_000


def _exact_and_on_time(r):
    assert not r["withheld"], r
    assert r["mismatches"] == 0, r
    assert r["status"] == "UNET_OK" and r["error"] == regmap.ERRORS["none"], r
    assert r["cycles"] == r["rtl_cycles"] > 0, r
    assert not r["early"], r


def test_interrupt_poll_interrupt(fsic_small):
    """Three inferences waited for by interrupt, polling, interrupt (each image late): a polled
    run leaves the accelerator's done and Caravel's pending interrupt set, which made the next
    interrupt wait return UNET_EBUSY at once with the driver before issue 23. (An image that never
    comes, aborted by the firmware with the same unet_abort(), is checked at the board level,
    tests/fsic/test_board.py: a chip run takes minutes.)"""
    ir_path, build, imgs = fsic_small
    chip = system.Chip(ir_path, build, images=3, wait_irq="ipi")
    res = chip.network(imgs[:3], delay=DELAY)
    assert [r["wait"] for r in res] == ["i", "p", "i"]
    for r in res:
        _exact_and_on_time(r)
