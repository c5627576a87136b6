"""The driver off the board: it imports without pynq, reads the deployment description, names every
error; the simulated board reads the block design's .hwh as PYNQ does. No simulator needed."""
import json
import subprocess
import sys

import pytest

from unetaccel import __version__
from unetaccel.codegen import regmap
from unetaccel.codegen.pynq_project import generate_pynq, hwh
from unetaccel.ir import randnet
from unetaccel.pynq import config, errors
from unetaccel.pynq.driver import HLS_VLNV, RTL_VLNV, VLNVS
from unetaccel.rtl_sim.pynq_board import BoardError, Hwh


def test_the_package_imports_without_pynq_and_says_so_on_use():
    code = ("import sys, importlib, pkgutil, unetaccel.pynq as p\n"
            "for m in pkgutil.walk_packages(p.__path__, 'unetaccel.pynq.'): importlib.import_module(m.name)\n"
            "assert 'pynq' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)\n"
            "try:\n    p.UnetOverlay\nexcept ModuleNotFoundError as e:\n    print('missing', e.name)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "missing pynq"


def test_vlnvs_bound_with_and_without_the_version():
    major_minor = ".".join(__version__.split(".")[:2])
    assert RTL_VLNV == f"unetaccel:unet:unet_accel:{major_minor}" and HLS_VLNV == f"unetaccel:hls:unet_top:{major_minor}"
    assert set(VLNVS) == {RTL_VLNV, HLS_VLNV, "unetaccel:unet:unet_accel", "unetaccel:hls:unet_top"}


def test_every_error_code_has_an_exception_that_names_it():
    for name, code in regmap.ERRORS.items():
        if not code:
            continue
        e = errors.run_error(code)
        assert isinstance(e, errors.RunError) and type(e).__name__ == errors._camel(name)
        assert f"error {name} ({code})" in str(e) and e.name == name and e.code == code
    assert "unknown code 99" in str(errors.run_error(99))
    s = errors.StatusError(["tlast_early", "bad_offset"], {"tlast_early": "an input frame had TLAST early"})
    assert str(s) == "STATUS: tlast_early (an input frame had TLAST early); bad_offset" and s.bits[1] == "bad_offset"
    assert issubclass(errors.AcceleratorTimeout, TimeoutError)


def test_deployment_description_is_read_tolerantly(tmp_path):
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1)
    generate_pynq(net, tmp_path / "pynq")
    bit = tmp_path / "pynq" / "unet.bit"
    dep = config.load_deployment(bit)
    assert dep.input_shape == (8, 8, 3) and dep.in_bytes == 192 and dep.logit_bytes == 192 and dep.class_bytes == 64
    assert dep.registers["CTRL"] == 0 and dep.dma_length_bits == 14 and dep.ir_path is None
    # the minimum: the shape and the classes; the rest takes the spec's defaults
    (tmp_path / "min").mkdir()
    (tmp_path / "min" / "unet_accel.json").write_text(json.dumps({"input_shape": [4, 6, 1], "num_classes": 2}))
    dep = config.load_deployment(tmp_path / "min")
    assert (dep.instance, dep.dma, dep.in_bytes, dep.logit_bytes, dep.clock_mhz) == ("unet_accel_0", "axi_dma_0",
                                                                                     24, 48, 100.0)
    assert dep.registers == {r.name: r.offset for r in regmap.REGISTERS}
    # an IP with a map of its own (the HLS IP): its registers only
    (tmp_path / "min" / "unet_accel.json").write_text(json.dumps({"input_shape": [4, 6, 1], "num_classes": 2,
                                                                  "ip": "hls", "registers": {"CTRL": 0, "ERROR": 128}}))
    assert config.load_deployment(tmp_path / "min").registers == {"CTRL": 0, "ERROR": 128}
    with pytest.raises(errors.DeploymentError, match="input_shape"):
        (tmp_path / "min" / "unet_accel.json").write_text("{}")
        config.load_deployment(tmp_path / "min")
    with pytest.raises(errors.DeploymentError, match="not found"):
        config.load_deployment(tmp_path / "nowhere" / "unet.bit")
    # the default timeout: generous (>= 1 s, 20 times the ideal frame), 10 s without an IR
    assert config.default_timeout(None, dep) == config.DEFAULT_TIMEOUT_S
    assert config.default_timeout(net, config.load_deployment(bit)) == config.TIMEOUT_MIN_S


def test_hwh_gives_pynqs_ip_dict_and_the_stream_wiring(tmp_path):
    """The generated .hwh (codegen.pynq_project) as the simulated board reads it; the default network's
    logits (64 x 64 x 21 bytes) need a 17-bit DMA length register."""
    p = tmp_path / "unet.hwh"
    p.write_text(hwh(randnet.random_unet(seed=1)))
    h = Hwh.parse(p)
    ips = h.ip_dict()
    assert {"axi_dma_0", "unet_accel_0", "axi_intc_0"} <= set(ips)
    assert ips["unet_accel_0"]["phys_addr"] == 0x43C0_0000 and ips["unet_accel_0"]["addr_range"] == 0x1_0000
    assert ips["unet_accel_0"]["type"] == "unetaccel:unet:unet_accel:0.1"
    assert ips["axi_dma_0"]["parameters"]["c_sg_length_width"] == "17"
    assert h.peer("unet_accel_0", "s_axis") == ("axi_dma_0", "M_AXIS_MM2S")
    assert h.peer("unet_accel_0", "m_axis") == ("axi_dma_0", "S_AXIS_S2MM")
    mod = h.modules["unet_accel_0"]
    assert mod.ports["ap_rst_n"]["POLARITY"] == "ACTIVE_LOW" and mod.ports["ap_clk"]["SIGIS"] == "clk"
    p.write_text("<EDKSYSTEM><MODULES/></EDKSYSTEM>")
    with pytest.raises(BoardError, match="no processing_system7"):
        Hwh.parse(p)


def test_validate_command_lists_its_options():
    r = subprocess.run([sys.executable, "-m", "unetaccel.pynq", "validate", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and all(o in r.stdout for o in ("--bit", "--val", "--ir", "--images"))
