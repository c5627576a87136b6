"""The simulator builds follow the one build cache (codegen.cache): one folder per simulator and
configuration, BUILD/rtl/sim_build/<simulator>/<digest>, reused across lane and simulator
switches; runs leave no temporary folders in BUILD/rtl. Uses the `small` network (conftest.py);
the lane switches run in a build folder of their own (other tests share the small build at 8x8):
two Verilator builds (8x8, 4x4)."""
import json

from unetaccel import ir as irmod
from unetaccel.codegen import cache
from unetaccel.codegen.rtl_project import emit_rtl
from unetaccel.rtl_sim.runner import BUILT, run_unit, simulate


def _exact(res, n):
    assert len(res["images"]) == n
    for r in res["images"]:
        assert r["mismatches"] == 0 and r["error"] == 0, r


def _builds(rtl_dir, simulator="verilator"):
    """{build folder: (its mtime, the mtime of every file in it)} of the simulator's finished builds."""
    out = {}
    for d in sorted((rtl_dir / "sim_build" / simulator).iterdir()):
        if (d / BUILT).is_file():
            out[d.name] = (d.stat().st_mtime_ns, {f.name: f.stat().st_mtime_ns for f in d.rglob("*") if f.is_file()})
    return out


def _leftovers(rtl_dir, net, lanes):
    """What BUILD/rtl holds besides the generated files, the stamp and the builds."""
    expected = set(emit_rtl(net, lanes)) | {cache.STAMP, "sim_build"}
    return sorted(p.name for p in rtl_dir.iterdir() if p.name not in expected)


def test_lane_switches_reuse_each_configurations_build(small, tmp_path):
    p, _, imgs = small
    build = tmp_path / "build"
    net = irmod.load(p)
    rtl = build.resolve() / "rtl"
    logs = []
    _exact(simulate(p, imgs[:1], build, lanes=(8, 8), log=logs.append), 1)
    first = _builds(rtl)
    assert _leftovers(rtl, net, (8, 8)) == []
    logs.clear()
    _exact(simulate(p, imgs[:1], build, lanes=(4, 4), log=logs.append), 1)
    assert any("generating" in m for m in logs) and any("verilator build" in m for m in logs), logs
    second = _builds(rtl)
    assert len(second) == len(first) + 1 and all(second[k] == v for k, v in first.items())
    assert _leftovers(rtl, net, (4, 4)) == []
    logs.clear()
    _exact(simulate(p, imgs[:2], build, lanes=(8, 8), log=logs.append), 2)
    assert any("generating" in m for m in logs) and not any("verilator build" in m for m in logs), logs
    assert _builds(rtl) == second  # the 8x8 build is used as it was: no folder or file touched
    assert _leftovers(rtl, net, (8, 8)) == []


def test_unit_runs_leave_no_temporary_folders(small):
    """The register block alone under both simulators: each builds into its own folder
    (sim_build/<simulator>/<digest>); the second run of a simulator builds nothing."""
    p, build, imgs = small
    rtl = build.resolve() / "rtl"
    for simulator in ("verilator", "icarus"):
        failures = run_unit(p, build, "unet_regs", ["unet_regs.sv"], "unetaccel.rtl_sim.tb_regs", simulator=simulator)
        assert failures == [], failures
        assert _leftovers(rtl, irmod.load(p), (8, 8)) == []
        names = {d.name: json.loads((d / BUILT).read_text())
                 for d in (rtl / "sim_build" / simulator).iterdir() if (d / BUILT).is_file()}
        assert any(v["toplevel"] == "unet_regs" and v["simulator"] == simulator for v in names.values()), names
        assert all(len(n) == 16 for n in names), names
    assert sorted(d.name for d in (rtl / "sim_build").iterdir()) == ["icarus", "verilator"]
    before = _builds(rtl, "icarus")
    logs = []
    assert run_unit(p, build, "unet_regs", ["unet_regs.sv"], "unetaccel.rtl_sim.tb_regs", simulator="icarus",
                    log=logs.append) == []
    assert not any("icarus build" in m for m in logs) and _builds(rtl, "icarus") == before, logs
