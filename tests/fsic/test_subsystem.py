"""Bit-exact through the real FSIC subsystem (issue 12): FSIC's fsic.v with our USER_PRJ0 in slot
0, configured over Wishbone from the SoC side, the image sent and the result received on the FPGA
side through FSIC's io_serdes (fpga.v), under Icarus (four-state). The network is a small
random-weight one of a size that is not the default (conftest.py prints its seed); the trained
default network runs at this level in test_trained.py."""
import numpy as np

from unetaccel.codegen import regmap
from unetaccel.fsic import system
from unetaccel.fsic.system import CTRL_ALL, CTRL_END, Script, finish, hwc

DONE_IDLE = regmap.pack("CTRL", ap_done=1, ap_idle=1)
DONE_IDLE_ERROR = regmap.pack("CTRL", ap_done=1, ap_idle=1, ap_error=1)
IDLE = regmap.pack("CTRL", ap_idle=1)


def _clean(r: dict) -> None:
    assert r["mismatches"] == 0, r
    assert r["error"] == regmap.ERRORS["none"], r
    assert r["ctrl"] & CTRL_ALL == DONE_IDLE, r
    assert r["tlast"] == 1, "TLAST not on the last word"
    assert r["cycles"] == r["rtl_cycles"] > 0, "the CYCLES registers differ from the accelerator's own count"


def test_class_map(subsystem, fsic_small):
    _, _, imgs = fsic_small
    res = subsystem.network(imgs[:2])
    for r in res:
        _clean(r)
    assert res[0]["bytes"] == imgs.shape[2] * imgs.shape[3]


def test_logits(subsystem, fsic_small):
    _, _, imgs = fsic_small
    (r,) = subsystem.network(imgs[2:3], logits=True)
    _clean(r)
    assert r["bytes"] == subsystem.net.num_classes * imgs.shape[2] * imgs.shape[3]


def test_single_layer_mode(subsystem, fsic_small):
    """Every layer-table row programmed into the single-layer registers over Wishbone and run on
    its own, each output streamed to the FPGA side, in one simulation."""
    _, _, imgs = fsic_small
    res = subsystem.layers(imgs[0])
    assert len(res) == len(subsystem.layout["layers"]) > 1
    for r in res:
        _clean(r)


def _want(subsystem, img) -> bytes:
    ref = subsystem.reference(img[None])
    return ref.classes[0].astype(np.uint8).ravel().tobytes()


def test_bad_register_value_is_rejected_and_nothing_hangs(subsystem, fsic_small):
    """The driver's documentation: a start with a bad register value ends at once with ap_done and
    ap_error (unet_poll: UNET_EHW) and the error code names it (unet_result); the engine stays idle
    and the next run is exact."""
    _, _, imgs = fsic_small
    row = dict(subsystem.layout["layers"][0], k=7)  # no 7x7 kernels
    s = system.layer_script(row, None, 0)
    s.lines = [ln for ln in s.lines if not ln.startswith(("O", "X"))]  # nothing comes out
    want = _want(subsystem, imgs[1])
    s.lines += system.network_script(imgs[1], len(want), False).lines
    tr = subsystem.run(s)
    assert tr.read("CTRL", 0) & CTRL_ALL == DONE_IDLE_ERROR
    assert tr.read("ERROR", 0) == regmap.ERRORS["bad_kernel"]
    # the check ends the rejected start within a few dozen cycles, before any image is taken
    assert len(tr.runs) == 2 and tr.runs[0] < 100, tr.runs
    assert tr.read("CYCLES_LO", 0) == tr.runs[0]
    _clean(system.result(tr, want, 0, status=1))


def test_start_while_busy_is_ignored(subsystem, fsic_small):
    """The driver refuses a start while CTRL.ap_idle is 0 (unet_start: UNET_EBUSY, nothing written);
    a start written anyway is ignored by the hardware: one run, exact."""
    _, _, imgs = fsic_small
    want = _want(subsystem, imgs[2])
    s = Script().write("MODE", 0).write("ISR", regmap.pack("ISR", done=1))
    s.write("CTRL", regmap.pack("CTRL", ap_start=1)).read("CTRL")
    s.write("CTRL", regmap.pack("CTRL", ap_start=1))  # while busy
    tr = subsystem.run(finish(s.send(hwc(imgs[2])), len(want)))
    assert tr.read("CTRL", 0) & IDLE == 0, "CTRL reads idle while a run is in progress"
    assert len(tr.runs) == 1, f"{len(tr.runs)} runs: the start while busy was not ignored"
    _clean(system.result(tr, want))


def test_early_read_of_the_result(subsystem, fsic_small):
    """Before the image has gone in, CTRL reads neither done nor idle, so unet_result() answers
    UNET_EBUSY and reads nothing; nothing has come out on the stream; the run then ends exact."""
    _, _, imgs = fsic_small
    want = _want(subsystem, imgs[0])
    s = Script().write("MODE", 0).write("ISR", regmap.pack("ISR", done=1))
    s.write("CTRL", regmap.pack("CTRL", ap_start=1)).expect(len(want)).delay(200).read("CTRL")
    s.send(hwc(imgs[0])).wait_output().poll("CTRL", CTRL_END, CTRL_END)
    for reg in ("CTRL", "ERROR", "CYCLES_LO", "CYCLES_HI"):
        s.read(reg)
    tr = subsystem.run(s)
    early = tr.read("CTRL", 0)
    assert early & DONE_IDLE == 0, f"CTRL {early:#x} before the image: the driver would read a result"
    _clean(system.result(tr, want))
