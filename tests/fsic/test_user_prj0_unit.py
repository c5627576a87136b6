"""USER_PRJ0 on its own under Verilator (cocotb): FSIC's write-response-less AXI-Lite, AW and W in
any order, no write lost, doubled or reordered (unetaccel.fsic.tb_user_prj0)."""
from unetaccel.codegen.fsic_project import RTL_FILES
from unetaccel.fsic.system import ensure_fsic
from unetaccel.rtl_sim.runner import run_unit


def test_axilite_without_write_response(fsic_small):
    ir_path, build, _ = fsic_small
    ensure_fsic(ir_path, build)
    sources = [f if f.startswith("../") else f"../fsic/{f}" for f in RTL_FILES]
    sources = [s.replace("../fsic/../rtl/", "") for s in sources]
    failures = run_unit(ir_path, build, "USER_PRJ0", sources, "unetaccel.fsic.tb_user_prj0")
    assert not failures, failures
