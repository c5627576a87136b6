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


#: The bound of each wait (TIMEOUT): spins on the interrupt's pending bit or CTRL reads. The
#: management core's instruction cache is tiny (64 bytes) and the spin loop refetches its code
#: from the SPI flash, a few thousand cycles a spin: 20 spins outlast a late image's run (DELAY
#: plus the run's 4,000-odd cycles) by far while keeping the withheld image's wait short.
TIMEOUT = 20


def test_interrupt_poll_interrupt_then_a_withheld_image(fsic_small):
    """Three inferences waited for by interrupt, polling, interrupt (each image late): a polled
    run leaves the accelerator's done and Caravel's pending interrupt set, which made the next
    interrupt wait return UNET_EBUSY at once with the driver before issue 23. Then a fourth
    whose image the FPGA side never sends: the firmware's interrupt wait times out, it aborts the
    run and reports UNET_ETIMEOUT with the error code `aborted`. (One chip run for both: a run
    of the chip takes minutes. The board level checks an exact image after an aborted one.)"""
    ir_path, build, imgs = fsic_small
    chip = system.Chip(ir_path, build, images=4, wait_irq="ipii", timeout=TIMEOUT)
    res = chip.network(imgs[[0, 1, 2, 0]], delay=DELAY, withhold=3)
    assert [r["wait"] for r in res] == ["i", "p", "i", "i"]
    for r in res[:3]:
        _exact_and_on_time(r)
    held = res[3]
    assert held["withheld"] and held["mismatches"] == 0, held  # and no output word came
    assert held["status"] == "UNET_ETIMEOUT" and held["error"] == regmap.ERRORS["aborted"], held
    assert held["cycles"] == held["rtl_cycles"] > 0 and not held["early"], held  # the abort ended the run
