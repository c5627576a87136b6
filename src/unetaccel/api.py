"""The steps as Python functions for a notebook: typed results, `logging` (logger "unetaccel"), and
simulators that take an IR object and image arrays as well as paths.

    import unetaccel as ua
    run = ua.train("runs/nb", epochs=1, widths=(4, 8), size=(16, 16), train_length=64, val_length=8)
    q = ua.quantize(run.path, epochs=0)
    ir = ua.load_ir(q.ir_path)
    images, labels = ua.validation_images(q.ir_path, 2)
    rtl = ua.rtlsim(ir, images, build="runs/nb/build")

`import unetaccel` imports none of this (nor torch): the names resolve on first use; train,
quantize and report import torch when called.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("unetaccel")


@dataclass
class TrainResult:
    path: Path                  # the run folder: float.pt, metrics.json, loss.png, predictions.png
    metrics: dict               # validation metrics of the float model
    seconds: float


@dataclass
class QuantizeResult:
    path: Path
    ir_path: Path               # RUN/model.json (the IR; model.npz beside it)
    float_miou: float
    w5a8_miou: float
    mismatches: int             # Brevitas (float64) vs the NumPy reference, every IR tensor
    metrics: dict = field(repr=False, default_factory=dict)


@dataclass
class ReferenceResult:
    classes: np.ndarray         # N x H x W
    logits: np.ndarray          # N x K x H x W (int8 codes)
    trace: dict | None = field(repr=False, default=None)  # every IR tensor, N x C x H x W, with trace=True


@dataclass
class CsimResult:
    images: int
    mismatches: int
    tensors: dict = field(repr=False, default_factory=dict)  # name -> [values compared, mismatches, first]
    seconds: float = 0.0


@dataclass
class RtlResult:
    images: int
    mismatches: int
    cycles: list[int]
    seconds: float


@dataclass
class GenerateResult:
    out: Path
    files: dict                 # target (hls, rtl, fsic, pynq) -> written paths


def _ir_path(ir, build) -> Path:
    """A path for an IR given as an object: saved under BUILD/ir (the simulators read files)."""
    from . import ir as irmod
    if isinstance(ir, (str, Path)):
        return Path(ir)
    return irmod.save(ir, Path(build) / "ir" / "model")


def _images(images, net) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == net.in_channels and arr.shape[1] != net.in_channels:
        arr = arr.transpose(0, 3, 1, 2)  # N x H x W x C
    return np.ascontiguousarray(arr, dtype=np.uint8)


def train(out, epochs: int = 10, widths=(8, 16, 32, 64, 128), size=(64, 64), dataset: str = "synthetic",
          data_root=None, classes: int | None = None, seed: int = 0, train_length: int | None = None,
          val_length: int | None = None, progress: bool = False) -> TrainResult:
    """Train the float UNet into the run folder `out` (as `unetaccel train`)."""
    from .model.train import TrainConfig, train as do_train
    cfg = TrainConfig(dataset=dataset, data_root=data_root, widths=tuple(widths), size=tuple(size), classes=classes,
                      epochs=epochs, seed=seed, train_length=train_length, val_length=val_length)
    log.info("training %s x%s on %s for %d epochs -> %s", widths, size, dataset, epochs, out)
    m = do_train(cfg, out, progress=progress)
    return TrainResult(Path(out), m.get("val", {}), float(m.get("seconds", 0.0)))


def quantize(run, epochs: int = 2, seed: int = 0, train_length: int | None = None, val_length: int | None = None,
             progress: bool = False) -> QuantizeResult:
    """W5A8 QAT from RUN/float.pt, export, IR, Brevitas == reference check (as `unetaccel quantize`)."""
    from .quant.job import quantize as do_quantize
    run = Path(run)
    m = do_quantize(run / "float.pt", run, epochs=epochs, seed=seed, progress=progress, train_length=train_length,
                    val_length=val_length, log=log.info)
    return QuantizeResult(run, run / "model.json", m["float"]["mean_iou"], m["w5a8"]["mean_iou"],
                          int(m["exactness"]["mismatches"]), m)


def load_ir(path):
    """The IR of RUN/model.json (validated)."""
    from . import ir as irmod
    return irmod.load(path)


def validation_images(ir_path, n: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(images N x C x H x W uint8, labels N x H x W) from RUN/val.npz."""
    from .ir.data import load_val
    return load_val(ir_path, load_ir(ir_path), n)


def reference(ir, images, trace: bool = False) -> ReferenceResult:
    """The NumPy integer reference (the spec) on images (N x C x H x W or N x H x W x C, uint8)."""
    from . import ir as irmod
    net = load_ir(ir) if isinstance(ir, (str, Path)) else ir
    r = irmod.reference.run(net, _images(images, net), trace=trace)
    return ReferenceResult(r.classes, r.logits, dict(r.trace) if trace else None)


def generate(ir, out="build", lanes=(8, 8), clock_ns: float = 10.0) -> GenerateResult:
    """BUILD/hls, BUILD/rtl, BUILD/fsic and BUILD/pynq for the IR (as `unetaccel generate`)."""
    from .codegen import generate as do_generate
    net = load_ir(ir) if isinstance(ir, (str, Path)) else ir
    files = do_generate(net, out, lanes=lanes, clock_ns=clock_ns)
    return GenerateResult(Path(out), files)


def csim(ir, images, build="build", lanes=None) -> CsimResult:
    """The C simulation (plain C++ types) on images, every layer against the reference."""
    from .hls import csim as cs
    p = _ir_path(ir, build)
    net = load_ir(p)
    reps = cs.run(p, build, images=_images(images, net), modes=("native",), lanes=lanes, log=log.info)
    r = reps[0]
    return CsimResult(r.images, r.mismatches, r.tensors, r.seconds)


def rtlsim(ir, images, build="build", lanes=(8, 8)) -> RtlResult:
    """The RTL under cocotb + Verilator on images, against the reference."""
    from .rtl_sim.runner import simulate
    p = _ir_path(ir, build)
    net = load_ir(p)
    res = simulate(p, _images(images, net), build, lanes=lanes, log=log.info)
    return RtlResult(len(res["images"]), sum(int(i["mismatches"]) for i in res["images"]),
                     [int(i["cycles"]) for i in res["images"]], float(res["seconds"]))


def report(run, images: int = 2, hw="ref,csim,rtl", clock_mhz: float = 100.0, out=None, build=None):
    """`unetaccel report` (unetaccel.reporting.make_report): a ReportResult with .out, .figures, .files."""
    from .reporting import make_report
    return make_report(run, images=images, hw=hw, clock_mhz=clock_mhz, out=out, build=build)
