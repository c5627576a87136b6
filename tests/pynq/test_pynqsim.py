"""`unetaccel pynqsim` on the small random network: the PYNQ driver, unchanged, on the simulated
PYNQ-Z2 around the IP top (Verilator, built once per session). Seeds: the network and the images
use SEED (conftest.py), printed."""
import numpy as np
import pytest
from typer.testing import CliRunner

from unetaccel.cli import app
from unetaccel.rtl_sim import pynqsim

def _run(ir, build, *, images=2, logits=False, checks=(), seed=77):
    lines = []
    code = pynqsim.main(ir, build, images=images, logits=logits, random_images=True, seed=seed, checks=checks,
                        log=lines.append)
    print("\n".join(lines))
    return code, lines


@pytest.fixture(scope="module")
def images_and_flush(pynq_small):
    ir, build, _, _ = pynq_small
    return _run(ir, build, logits=True, checks=("flush", "length"))


def test_images_through_infer_and_infer_logits_are_exact(images_and_flush):
    code, lines = images_and_flush
    assert code == 0 and lines[-1] == "mismatches: 0"
    steps = [s for s in lines if s.startswith("image ")]
    assert [s.split(":")[0] for s in steps[:4]] == ["image 0 (class map)", "image 1 (class map)", "image 0 (logits)",
                                                     "image 1 (logits)"]
    assert all(": ok: match" in s for s in steps)


def test_a_transfer_longer_than_the_length_register_is_refused(images_and_flush):
    _, lines = images_and_flush
    check = next(s for s in lines if s.startswith("check length"))
    assert check.startswith("check length: ok: refused: Transfer size is 16384 bytes") and "fits 14 bits" in check


def test_a_missing_flush_is_caught(images_and_flush):
    _, lines = images_and_flush
    flush = next(s for s in lines if s.startswith("check flush"))
    assert flush.startswith("check flush: ok: stale data detected") and "the previous image's" in flush
    assert any(s.startswith("image 1 (class map) after flush: ok: match") for s in lines)


def test_recovery_checks_each_followed_by_an_exact_image(pynq_small):
    ir, build, _, _ = pynq_small
    code, lines = _run(ir, build, images=1, checks=pynqsim.CHECKS)
    for name in pynqsim.CHECKS:
        assert any(s.startswith(f"check {name}: ok") for s in lines), name
        assert any(s.startswith(f"image 0 (class map) after {name}: ok: match") for s in lines), name
    timeout = next(s for s in lines if s.startswith("check timeout"))
    assert "AcceleratorTimeout" not in timeout or "aborted" in timeout
    assert code == 0 and lines[-1] == "mismatches: 0"


def test_load_weights_writes_another_network_and_back(pynq_small):
    ir, build, other, imgs = pynq_small
    from unetaccel import ir as irmod
    mine, theirs = (irmod.reference.run(irmod.load(p), imgs[:1]).classes[0] for p in (ir, other))
    assert not np.array_equal(mine, theirs), "the two networks must differ on the image for the test to mean much"
    res = pynqsim.simulate(ir, imgs[:1], build, checks=(), reload_ir=other, log=print)
    steps = {s["step"]: s for s in res["steps"]}
    assert steps["load_weights (another network)"]["ok"], steps
    assert steps["image 0 (class map) after load_weights (the network again)"]["ok"], steps


def test_the_rung_fails_on_its_own_on_a_wrong_output(pynq_small, monkeypatch):
    """Judged against another network's reference, the images mismatch: `mismatches: N` > 0."""
    ir, build, other, imgs = pynq_small
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # else cocotb's runner exits pytest on the failure itself
    res = pynqsim.simulate(ir, imgs[:1], build, checks=(), reference_ir=other, log=print)
    lines = []
    total = pynqsim.report(res, lines.append)
    assert total > 0 and lines[-1] == f"mismatches: {total}" and "image 0 (class map): FAILED" in lines[0]


def test_cli_refuses_an_unknown_check():
    r = CliRunner().invoke(app, ["pynqsim", "--ir", "x.json", "--checks", "flush,bogus"])
    assert r.exit_code == 2 and "unknown bogus" in r.output
