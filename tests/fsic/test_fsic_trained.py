"""The trained default network (3x64x64, 21 classes) through FSIC's subsystem with our USER_PRJ0:
two validation images, class map exact, under Verilator --timing (about 4 s an image; under Icarus
an image takes minutes: benchmarks/bench_fsic.py runs that and the chip level, and the README
gives its figures)."""
from unetaccel import ir as irmod
from unetaccel.codegen import regmap
from unetaccel.fsic import system
from unetaccel.fsic.system import CTRL_ALL
from unetaccel.ir.data import load_val


def test_trained_network_two_validation_images(trained_ir_path, shared, fsic_root):
    build = shared("fsic_trained_build", lambda folder: None)
    net = irmod.load(trained_ir_path)
    imgs, _ = load_val(trained_ir_path, net, 2)
    sub = system.Subsystem(trained_ir_path, build, simulator="verilator")
    res = sub.network(imgs)
    assert len(res) == 2
    for r in res:
        assert r["mismatches"] == 0, r
        assert r["error"] == regmap.ERRORS["none"] and r["ctrl"] & CTRL_ALL == regmap.pack("CTRL", ap_done=1, ap_idle=1)
        assert r["cycles"] == r["rtl_cycles"] > 700_000, r
        assert r["bytes"] == 64 * 64
