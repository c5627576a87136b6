"""The drop-in as BUILD/fsic/README.md gives it: its Icarus commands, run literally (bash -e) on a
copy of the FSIC checkout's rtl/ folder, build FSIC's own subsystem testbench (tb_fsic.v, from
tc/, with FSIC's file list less the example user project 0 plus BUILD/fsic/filelist) and every
check of it that does not target FSIC's example passes, the accelerator's memory images found by
the absolute paths of BUILD/fsic/unet_mem.vh while the simulator runs in tc/. The checkout itself
is not touched."""
import os
import re
import shutil
import subprocess

from test_fsic_own_testbench import EXAMPLE_TESTS, OTHER_TESTS

from unetaccel.fsic.system import ensure_fsic


def readme_commands(readme: str, first: str) -> str:
    """The ```sh block of the README whose first line starts with `first`."""
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    hits = [b for b in blocks if b.startswith(first)]
    assert len(hits) == 1, f"the README has {len(hits)} command blocks starting {first!r}"
    return hits[0]


def test_readme_dropin_runs_fsics_testbench(fsic_root, fsic_small, tmp_path):
    ir_path, build, _ = fsic_small
    _, rtl_dir, fsic_dir = ensure_fsic(ir_path, build)
    copy = tmp_path / "fsic_fpga"
    shutil.copytree(fsic_root / "rtl", copy / "rtl")
    script = readme_commands((fsic_dir / "README.md").read_text(), "cd $FSIC_FPGA_ROOT/rtl/user/testbench/tc")
    for line in script.strip().splitlines():  # each step one command, no placeholder to fill in
        assert "<" not in line and "..." not in line, line
    env = {**os.environ, "FSIC_FPGA_ROOT": str(copy), "BUILD": str(build.resolve())}
    r = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=900)
    log = r.stdout
    final = re.search(r"Final result \[(\w+)\], check_cnt = (\d+), error_cnt = (\d+)", log)
    assert final, (r.stdout + r.stderr)[-3000:]
    tc = copy / "rtl/user/testbench/tc"
    listed = (tc / "unet_filelist").read_text().split()
    assert not [f for f in listed if "/user_prj0/" in f], "the example user project 0 is still listed"
    assert listed[-len((fsic_dir / "filelist").read_text().split()):] == (fsic_dir / "filelist").read_text().split()
    assert not list(tc.glob("*.mem")) and not (tc / "layers.mem").exists()  # read from BUILD/rtl, not copied
    checks, errors = int(final.group(2)), int(final.group(3))
    failed = set(re.findall(r"=> (\w+) \[ERROR\]", log))
    passed = set(re.findall(r"=> (\w+) \[PASS\]", log))
    print(f"README drop-in, tb_fsic.v without test002: {checks} checks, {errors} errors ({sorted(failed)})")
    assert failed <= EXAMPLE_TESTS, f"FSIC's own checks failed with our project: {sorted(failed)}"
    assert checks > 100 and OTHER_TESTS <= passed, sorted(OTHER_TESTS - passed)
    unopened = re.findall(r".*readmem.*(?:unable|cannot|not).*", r.stdout + r.stderr, flags=re.I)
    assert not unopened, unopened


def test_images_are_found_by_absolute_path(fsic_small):
    """unet_mem.vh defines a path for every image BUILD/rtl has, each an existing file."""
    ir_path, build, _ = fsic_small
    _, rtl_dir, fsic_dir = ensure_fsic(ir_path, build)
    header = (fsic_dir / "unet_mem.vh").read_text()
    paths = dict(re.findall(r'`define (UNET_MEM_\w+) "([^"]+)"', header))
    assert {os.path.basename(p) for p in paths.values()} == {p.name for p in rtl_dir.glob("*.mem")}
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths.values())
    core = (rtl_dir / "unet_core.sv").read_text()
    assert set(re.findall(r"\$readmemh\(`(UNET_MEM_\w+),", core)) == set(paths)
