"""FSIC on the simulated PYNQ-Z2 (`fsicsim --level board`): the ARM-side driver (unetaccel.pynq.fsic)
loads the firmware through Caravel's pass-through, brings the link up through FSIC's real FPGA side
(ps_axil) and runs images with its DMA; each class map exact, each run's cycles as the firmware
read them equal to the accelerator's own count."""
import re

import pytest

from unetaccel.fsic import board as fb
from unetaccel.fsic import boardsim, fsicsim
from unetaccel.pynq import fsic as drv
from unetaccel.rtl_sim.pynq_board import Hwh


def test_board_sources_are_fsics_board_list_without_its_example(fsic_root):
    srcs = boardsim.board_sources(fsic_root)
    names = [p.name for p in srcs]
    assert "ps_axil.v" in names and "caravel.v" in names and "spiflash.v" in names
    assert not any("/user_prj0/" in str(p) for p in srcs)  # ours replaces the example
    assert not any(p.suffix == ".sv" and "axilite_axis" in str(p) for p in srcs)
    assert all(p.is_file() for p in srcs)


def test_board_hwh_gives_the_driver_its_instances(tmp_path):
    p = tmp_path / "b.hwh"
    p.write_text(fb.board_hwh(17))
    ipd = Hwh.parse(p).ip_dict()
    assert set(drv.INSTANCES.values()) <= set(ipd)
    assert ipd["ps_axil_0"]["phys_addr"] == 0x6000_0000
    assert ipd["axi_dma_0"]["parameters"]["c_sg_length_width"] == "17"


def test_read_hex_places_bytes_at_their_addresses(tmp_path):
    f = tmp_path / "fw.hex"
    f.write_text("@00000000\n6F 00 00 0B\n@00000008\nAA\n")
    assert drv.read_hex(f) == bytes([0x6F, 0, 0, 0x0B, 0, 0, 0, 0, 0xAA])
    f.write_text("@00000000\nZZ\n")
    with pytest.raises(drv.DeploymentError, match="not a hex byte"):
        drv.read_hex(f)


def test_board_level_is_exact_through_the_boards_driver(fsic_small):
    """A run whose image the ARM withholds (the firmware's wait bounded to 8 spins, some 3,000
    cycles each (the management core refetches its code from the flash): it must abort
    the run and report it), then an image of the small random network (8x12, not the default size;
    random weights): its class map exact. About 35 ms of the board (the firmware's 18 ms through the
    quad SPI first), 4 to 5 min under Icarus."""
    ir_path, build, _ = fsic_small
    lines = []
    code = fsicsim.main(ir_path, build, images=1, level="board", random_images=True, seed=12, log=lines.append,
                        withhold_polls=8)
    print("\n".join(lines))
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "mismatches: 0"
    steps = [ln for ln in lines if re.match(r"(firmware|link|withheld image|image \d): ", ln)]
    assert [s.split(":")[0] for s in steps] == ["firmware", "link", "withheld image", "image 0"]
    assert "UNET_ETIMEOUT" in steps[2]
    assert all(": ok: " in s for s in steps), steps
    assert all("0 mismatching bytes" in s and "UNET_OK" in s for s in steps[3:])
