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
    interrupt wait return UNET_EBUSY at once with the driver before issue 23."""
    ir_path, build, imgs = fsic_small
    chip = system.Chip(ir_path, build, images=3, wait_irq="ipi")
    res = chip.network(imgs[:3], delay=DELAY)
    assert [r["wait"] for r in res] == ["i", "p", "i"]
    for r in res:
        _exact_and_on_time(r)


#: The bound of each wait in the withheld-image test (TIMEOUT): spins on the interrupt's pending
#: bit. The management core's instruction cache is tiny (64 bytes) and the spin loop refetches
#: its code from the SPI flash, a few thousand cycles a spin, so 10 spins outlast the next
#: image's run (its image comes at once) by far while keeping the withheld wait short.
TIMEOUT = 10


def test_withheld_image_is_aborted(fsic_small):
    """The FPGA side never sends image 0: the firmware's interrupt wait times out, it aborts the
    run and reports UNET_ETIMEOUT with the error code `aborted`; image 1 then runs exact, its
    interrupt wait not fooled by the aborted run's done."""
    ir_path, build, imgs = fsic_small
    chip = system.Chip(ir_path, build, images=2, wait_irq="i", timeout=TIMEOUT)
    held, nxt = chip.network(imgs[:2], withhold=0)
    assert held["withheld"] and held["mismatches"] == 0, held  # and no output word came
    assert held["status"] == "UNET_ETIMEOUT" and held["error"] == regmap.ERRORS["aborted"], held
    assert held["cycles"] == held["rtl_cycles"] > 0 and not held["early"], held  # the abort ended the run
    _exact_and_on_time(nxt)
