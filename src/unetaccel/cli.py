"""The `unetaccel` command (docs/cli.md).

Every command that compares rungs prints `mismatches: N` as its last line. Exit codes:

- 0: done (no mismatches);
- 1: the rungs disagree (N > 0);
- 2: bad input, a missing tool or file, a failed build or simulation: any
  :class:`~unetaccel.errors.UnetaccelError` or ``OSError``, printed as one ``error:`` line
  naming the culprit (``--debug`` adds the traceback);
- 3: an internal error, a bug of unetaccel: ``internal error: TYPE: message``, the traceback
  and a request to report it.
"""
from __future__ import annotations

import logging
import os
import traceback
import warnings
from pathlib import Path
from typing import Optional

import typer

from . import __version__
from .codegen.layout import BOARD_PART
from .errors import UnetaccelError
from .options import parse_lanes, parse_mult, parse_size
from .threads import ENV as THREADS_ENV
from .threads import check_threads

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)

_options = {"debug": False, "verbose": False}

#: Warnings of the libraries underneath that say nothing to a user of unetaccel (shown with -v).
QUIET_WARNINGS = ("fast_hadamard_transform package not found", "brevitas.fx is deprecated")


def _version(value: bool):
    if value:
        typer.echo(f"unetaccel {__version__}")
        raise typer.Exit(0)


def _threads(value: Optional[str]):
    if value is not None:
        try:
            os.environ[THREADS_ENV] = str(check_threads(value, f"--threads {value}"))
        except UnetaccelError as e:
            raise typer.BadParameter(str(e)) from None
    return value


@app.callback()
def _global_options(debug: bool = typer.Option(False, "--debug", help="print the traceback of user errors too "
                                                                     "(bad input, missing files or tools)"),
                    verbose: bool = typer.Option(False, "--verbose", "-v", help="print every step's detail lines "
                                                 "and the libraries' warnings (tool logs stay in BUILD/logs)"),
                    threads: Optional[str] = typer.Option(None, "--threads", callback=_threads, metavar="N",
                                                          help=f"torch threads (default: ${THREADS_ENV}, else the "
                                                               "cores this process may use)"),
                    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                                 help="print the version and exit")):
    """Train a tiny UNet, quantize it to W5A8, compile it to C/HLS and Verilog, and verify every rung bit for bit.

    Exit codes: 0 done, 1 mismatches, 2 bad input or a missing tool, 3 an internal error (a bug: please report it).
    Simulator, compiler and build output goes to BUILD/logs; a failed step names its log."""
    _options["debug"], _options["verbose"] = debug, verbose
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("unetaccel").setLevel(logging.INFO if verbose else logging.WARNING)
    if not verbose:
        for text in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=text)


def _detail(*parts) -> None:
    """A detail line (a build, a generation, a per-tensor verdict): printed with -v only."""
    if _options["verbose"]:
        typer.echo(" ".join(map(str, parts)))


class CliError(UnetaccelError):
    """A bad command-line option or argument; the message names it."""


def check_writable(folder: Path, option: str, shown: Optional[Path] = None) -> Path:
    """Fail before any work when the output folder could not be made or written in (a file in the
    way, a read-only file system, no permission): a user error naming the option and what the user
    passed (`shown`, default the folder). Makes nothing."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        why = f"{probe} is a file, not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        why = f"{probe} is not writable" + (" (read-only file system)" if _read_only(probe) else "")
    else:
        return folder
    raise CliError(f"{option} {shown or folder}: cannot write there: {why}")


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _oserror_line(e: OSError) -> str:
    """One line for a file-system error: the path(s) and the reason."""
    if e.filename is None:
        return str(e)
    names = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 is not None else "")
    if isinstance(e, FileExistsError) and Path(e.filename).exists() and not Path(e.filename).is_dir():
        return f"{names}: not a folder (a file of that name is in the way)"  # Path.mkdir(exist_ok=True)
    return f"{names}: {e.strerror or e}"


def _run(fn):
    """Run a command body at the error boundary.

    A :class:`UnetaccelError` (bad input, a missing tool, a failed build) or an ``OSError`` (a path
    that cannot be read or written) is one ``error:`` line on stderr and exit 2; anything else is a
    bug: ``internal error``, the traceback and a request to report it, exit 3."""
    try:
        return fn()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(2) from None
    except (UnetaccelError, OSError) as e:
        if _options["debug"]:
            typer.echo(traceback.format_exc().rstrip(), err=True)
        typer.echo(f"error: {e if isinstance(e, UnetaccelError) else _oserror_line(e)}", err=True)
        raise typer.Exit(2) from None
    except Exception as e:
        typer.echo(f"internal error: {type(e).__name__}: {e}", err=True)
        typer.echo(traceback.format_exc().rstrip(), err=True)
        typer.echo("this is a bug in unetaccel, not in your input: please report it with the command line and "
                   "the traceback above", err=True)
        raise typer.Exit(3) from None


def parse_class_weights(s: Optional[str]) -> Optional[list[float]]:
    """--class-weights w0,w1,...: positive numbers (their count is checked against the classes)."""
    if s is None:
        return None
    from .model.metrics import ClassWeightsError, check_class_weights
    try:
        values = [float(v) for v in s.split(",")]
    except ValueError:
        raise CliError(f"--class-weights {s!r}: expected comma-separated positive numbers, e.g. 1,2.5,1") from None
    try:
        return check_class_weights(values)
    except ClassWeightsError as e:
        raise CliError(f"--class-weights {s!r}: {e}") from None


def parse_widths(s: str) -> tuple[int, ...]:
    try:
        w = tuple(int(v) for v in s.split(","))
    except ValueError:
        raise CliError(f"--widths {s!r}: expected comma-separated integers, e.g. 8,16,32,64,128") from None
    if len(w) < 2:
        raise CliError(f"--widths {s!r}: need at least one encoder width and the bottleneck")
    return w


def check_lr(lr: float) -> float:
    if not lr > 0:
        raise CliError(f"--lr {lr}: the learning rate must be positive")
    return lr


def _table(title, columns, rows):
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c, justify="right" if c not in ("layer", "op", "metric", "tensor", "first", "rung", "compared with", "class") else "left")
    for r in rows:
        t.add_row(*[str(v) for v in r])
    Console(width=140).print(t)


def _fmt(v, nd=4):
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def print_metrics(title, metrics: dict, names=None):
    rows = [("pixel accuracy", _fmt(metrics["pixel_accuracy"])), ("mean IoU", _fmt(metrics["mean_iou"])),
            ("mean Dice", _fmt(metrics["mean_dice"])), ("mean F1", _fmt(metrics["mean_f1"]))]
    _table(title, ["metric", "value"], rows)
    per = [(n, _fmt(metrics["iou"][n]), _fmt(metrics["dice"][n]), _fmt(metrics["precision"][n]),
            _fmt(metrics["recall"][n]), _fmt(metrics["f1"][n])) for n in metrics["iou"]]
    _table(f"{title}: per class", ["class", "IoU", "Dice", "precision", "recall", "F1"], per)


@app.command()
def train(dataset: str = typer.Option("synthetic", help="synthetic | voc | camvid | folder"),
          data_root: Optional[Path] = typer.Option(None, help="dataset folder (voc, camvid, folder)"),
          widths: str = typer.Option("8,16,32,64,128", help="encoder widths, the last is the bottleneck"),
          classes: Optional[int] = typer.Option(None, help="number of classes (default: the dataset's)"),
          size: str = typer.Option("64x64", help="input HEIGHTxWIDTH, multiples of 2^levels"),
          epochs: int = typer.Option(20, min=1), seed: int = 0,
          batch_size: int = typer.Option(16, min=1), lr: float = 1e-2,
          beta: float = typer.Option(0.5, help="loss = beta*CE + (1-beta)*Dice"),
          class_weights: Optional[str] = typer.Option(None, help="comma-separated CE class weights"),
          train_length: Optional[int] = typer.Option(None, min=1, help="synthetic: training images per epoch"),
          val_length: Optional[int] = typer.Option(None, min=1, help="synthetic: validation images"),
          out: Path = typer.Option(..., help="run folder (float.pt, metrics.json, plots)")):
    """Train the float UNet (default: the embedded synthetic dataset)."""
    def body():
        from .model.metrics import ClassWeightsError
        from .model.train import TrainConfig, train as do_train
        cw = parse_class_weights(class_weights)
        check_writable(out, "--out")
        cfg = TrainConfig(dataset=dataset, data_root=str(data_root) if data_root else None,
                          widths=parse_widths(widths), classes=classes, size=parse_size(size), epochs=epochs,
                          batch_size=batch_size, lr=check_lr(lr), beta=beta, class_weights=cw, seed=seed,
                          train_length=train_length, val_length=val_length)
        try:
            m = do_train(cfg, out)
        except ClassWeightsError as e:  # the count, known once the dataset's classes are
            raise CliError(f"--class-weights {class_weights!r}: {e}") from None
        print_metrics(f"float UNet, {dataset} validation", m["val"])
        typer.echo(f"wrote {out}/float.pt, metrics.json, loss.png, predictions.png ({m['seconds']:.0f} s)")
    _run(body)


@app.command()
def quantize(checkpoint: Path = typer.Option(..., help="RUN/float.pt"),
             epochs: int = typer.Option(8, min=0, help="QAT epochs (0 = post-training quantization only)"),
             seed: int = 0, lr: float = 3e-3,
             val_images: int = typer.Option(16, min=1, help="validation images for the exactness check and val.npz"),
             weight_bits: int = typer.Option(5, min=2, max=8), act_bits: int = typer.Option(8, min=8, max=8),
             train_length: Optional[int] = typer.Option(None, min=1),
             val_length: Optional[int] = typer.Option(None, min=1),
             out: Path = typer.Option(..., help="run folder")):
    """W5A8 QAT from a float checkpoint; writes the IR, the QONNX file and val.npz; checks Brevitas == reference."""
    def body():
        from .quant.job import quantize as do_quantize
        check_writable(out, "--out")
        m = do_quantize(checkpoint, out, epochs=epochs, seed=seed, lr=check_lr(lr), val_images=val_images,
                        weight_bits=weight_bits, act_bits=act_bits, train_length=train_length,
                        val_length=val_length)
        rows = [(name, _fmt(m[key]["pixel_accuracy"]), _fmt(m[key]["mean_iou"]))
                for name, key in (("float", "float"), ("W5A8 PTQ", "ptq"), (f"W5A8 QAT ({epochs} ep)", "w5a8"))]
        _table("float vs W5A8 (validation split)", ["metric", "pixel acc", "mIoU"], rows)
        typer.echo(f"mIoU drop: {m['miou_drop_points']:.2f} points; wrote {out}/model.json, model.npz, "
                   f"model.onnx, val.npz, quant_metrics.json")
        ex = m["exactness"]
        bad = [r for r in ex["tensors"] if r["mismatches"]]
        for r in bad:
            typer.echo(f"MISMATCH {r['tensor']} ({r['op']}): {r['mismatches']} of {r['values']}; {r['first']}")
        typer.echo(f"Brevitas (float64) vs NumPy reference on {ex['images']} validation images, "
                   f"{len(ex['tensors'])} tensors each")
        typer.echo(f"mismatches: {ex['mismatches']}")
        raise typer.Exit(1 if ex["mismatches"] else 0)
    _run(body)


@app.command()
def inspect(ir: Path = typer.Option(..., help="RUN/model.json"), lanes: str = "8x8"):
    """Per layer: shapes, bits, f, accumulator width, memory, MACs and ideal cycles."""
    def body():
        from . import ir as irmod
        model = irmod.load(ir)
        ln = parse_lanes(lanes)
        rows = irmod.summary(model, ln)
        _table(f"{model.name}: {len(model.layers)} layers, input {list(model.input_tensor.shape)}, "
               f"{model.num_classes} classes", ["layer", "op", "in", "out", "bits", "f", "acc bits", "param B",
                                              "act B", "MACs", f"cycles@{lanes}"],
               [(r["layer"], r["op"], "x".join(map(str, r["in"])), "x".join(map(str, r["out"])),
                 f"{'s' if r['out_signed'] else 'u'}{r['out_bits']}",
                 r["out_f"] if isinstance(r["out_f"], int) else f"{min(r['out_f'])}..{max(r['out_f'])}",
                 r["acc_bits"] or "", r["param_bytes"], r["act_bytes"], r["macs"], r["ideal_cycles"]) for r in rows])
        typer.echo(f"total: {sum(r['macs'] for r in rows):,} MACs, {sum(r['ideal_cycles'] for r in rows):,} ideal cycles "
                   f"at {lanes} lanes, {sum(r['param_bytes'] for r in rows):,} parameter bytes")
        typer.echo(f"activations: {sum(r['act_bytes'] for r in rows):,} bytes in all layer outputs, one image "
                   f"(act B; ceil(bits / 8) bytes a value), largest {max(r['act_bytes'] for r in rows):,}")
    _run(body)


@app.command()
def infer(ir: Path = typer.Option(..., help="RUN/model.json"),
          image: Path = typer.Option(..., help="an image file (PNG/JPEG) of any size"),
          out: Path = typer.Option(..., help="output PNG: the class map, colour-coded (an overlay PNG beside it)"),
          tile: Optional[str] = typer.Option(None, help="overlap=K: tiles overlap by K pixels (default 0)"),
          hw: str = typer.Option("ref", help="ref (the integer reference), csim or rtl: the tiles run "
                                             "through it and must equal the reference"),
          build: Path = typer.Option(Path("build"), help="build folder of csim / rtl"),
          resize: bool = typer.Option(False, help="resize the image to the network's input size instead of tiling")):
    """Class map of a picture of any size: tiled into model-sized tiles (a smaller picture is padded),
    each tile through the integer reference (or the C simulation or the RTL, checked equal to it),
    the class maps stitched (each pixel from the tile where it is farthest from a border). Writes
    OUT (colour-coded classes) and OUT_overlay.png (the picture under the classes)."""
    def body():
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        from . import ir as irmod
        from . import tiling
        from .palette import palette
        if hw not in ("ref", "csim", "rtl"):
            raise CliError(f"--hw {hw!r}: one of ref, csim, rtl")
        if out.suffix.lower() != ".png":
            raise CliError(f"--out {out}: the class map is written as a PNG picture; name it OUT.png")
        check_writable(out.parent, "--out", out)
        overlap = tiling.parse_tile(tile)
        net = irmod.load(ir)
        if not image.is_file():
            raise CliError(f"{image}: no such image")
        try:
            pic = Image.open(image).convert("RGB" if net.in_channels == 3 else "L")
        except UnidentifiedImageError:
            raise CliError(f"{image}: not an image file PIL can read (PNG, JPEG, BMP, ...)") from None
        h, w = net.size
        if resize and pic.size != (w, h):
            pic = pic.resize((w, h), Image.BILINEAR)
        arr = np.asarray(pic, dtype=np.uint8)
        chw = arr.transpose(2, 0, 1) if arr.ndim == 3 else arr[None]
        plan = tiling.plan(chw.shape[1], chw.shape[2], (h, w), overlap)
        tiles = tiling.tiles(chw, plan)
        maps = irmod.reference.run(net, tiles).classes
        mism = 0
        if hw == "csim":
            from .hls import csim as cs
            reps = cs.run(ir, build, images=tiles, modes=("native",), log=lambda *a: None)
            mism = sum(r.mismatches for r in reps)
        elif hw == "rtl":
            from .rtl_sim.runner import simulate
            res = simulate(ir, tiles, build, log=lambda *a: None)
            mism = sum(int(r["mismatches"]) for r in res["images"])
        classes = tiling.stitch(maps, plan)
        k = net.num_classes
        out.parent.mkdir(parents=True, exist_ok=True)
        colours = palette(k)[classes]
        Image.fromarray(colours).save(out)
        rgb = np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr
        overlay = out.with_name(out.stem + "_overlay.png")
        Image.fromarray((0.5 * rgb + 0.5 * colours).astype(np.uint8)).save(overlay)
        counts = np.bincount(classes.ravel(), minlength=k)
        names = net.meta.get("class_names") or [str(i) for i in range(k)]
        top = ", ".join(f"{names[i]} {100 * counts[i] / counts.sum():.1f}%" for i in np.argsort(-counts)[:5] if counts[i])
        how = "resized" if resize else f"{plan.count} tile{'s' if plan.count > 1 else ''} of {h}x{w}, overlap {overlap}"
        typer.echo(f"{chw.shape[1]}x{chw.shape[2]} picture, {how}, on {hw}")
        typer.echo(f"wrote {out} and {overlay}; classes: {top}")
        if hw != "ref":
            typer.echo(f"mismatches: {mism}")
            raise typer.Exit(1 if mism else 0)
    _run(body)


@app.command()
def generate(ir: Path = typer.Option(..., help="RUN/model.json"),
             lanes: str = typer.Option("8x8", help="PINxPOUT parallelism (unroll factors / MAC lanes)"),
             part: str = typer.Option(BOARD_PART, help="FPGA part for run_hls.tcl and vivado.tcl (and package_ip.tcl, "
                                                       "build_bitstream.tcl); a lane shape whose estimate exceeds a "
                                                       "known part's block RAM or DSPs is warned of"),
             clock_ns: float = typer.Option(10.0, help="clock period for run_hls.tcl"),
             out: Path = typer.Option(Path("build"), help="output folder (BUILD/hls ...)"),
             mult: str = typer.Option("dsp", help="RTL multipliers: dsp (one a product) or dsp2 (one for two "
                                                  "output lanes' products: half the DSP48E1s)"),
             bus_errors: str = typer.Option("okay", help="what the RTL's AXI-Lite slave answers to a refused "
                                                         "access: okay (recorded in STATUS; a Zynq port takes an "
                                                         "error response as an abort) or slverr")):
    """Generate BUILD/hls (the C/HLS project for Vitis HLS), BUILD/rtl (the Verilog accelerator and its
    Vivado IP script), BUILD/fsic (the accelerator as FSIC's user project 0, with its firmware) and
    BUILD/pynq (the PYNQ-Z2 block design and bitstream scripts, unet.hwh, unet_accel.json) from the IR."""
    def body():
        from . import ir as irmod
        from .codegen import generate as gen
        from .codegen.fsic_fit import fsic_fit
        from .codegen.fsic_fit import message as fsic_message
        from .codegen.hls_model import part_fit
        net = irmod.load(ir)
        if not clock_ns > 0:
            raise CliError(f"--clock-ns {clock_ns}: the clock period must be positive")
        ln = parse_lanes(lanes)
        check_writable(out, "--out")
        files = gen(net, out, lanes=ln, part=part, clock_ns=clock_ns, ir_file=ir.name, mult=parse_mult(mult),
                    bus_errors=bus_errors)
        for target, fs in files.items():
            typer.echo(f"{target}: {len(fs)} files in {out / target}")
        over = part_fit(net, ln, part)["over"]
        if over:
            typer.echo(f"warning: at {lanes} lanes the estimate needs {', '.join(over)} ({part}): this lane "
                       "shape does not fit the part; choose fewer lanes or a larger part", err=True)
        fsic = fsic_message(fsic_fit(net, ln, parse_mult(mult)))
        if fsic:
            typer.echo(f"warning: {fsic}", err=True)
    _run(body)


@app.command()
def bitstream(ir: Path = typer.Option(..., help="RUN/model.json"),
              build: Path = typer.Option(Path("build"), help="build folder (BUILD/rtl or BUILD/hls, and BUILD/pynq, "
                                                             "are generated)"),
              hls: bool = typer.Option(False, help="the HLS IP (BUILD/hls, exported with vitis-run first) instead "
                                                   "of the RTL accelerator"),
              lanes: str = typer.Option("8x8", help="PINxPOUT parallelism"),
              part: str = typer.Option(BOARD_PART, help="FPGA part (the PYNQ-Z2's by default)")):
    """The PYNQ-Z2 bitstream: generate the accelerator (BUILD/rtl, or BUILD/hls with --hls) and
    BUILD/pynq (block design, Vivado scripts, hardware handoff, unet_accel.json), then run Vivado in
    batch mode (build_bitstream.tcl: IP, block design, synthesis, implementation, unet.bit and
    unet.hwh in BUILD/pynq). Without Vivado on the PATH it stops after writing the scripts, exit 2."""
    def body():
        import shutil
        import subprocess

        from . import ir as irmod
        from .codegen.pynq_project import (BITSTREAM, HLS_EXPORT_COMMAND, HLS_IP_REPO, HWH, dma_length_bits,
                                           generate_pynq, vlnv)
        from .tools import ToolMissing, failed, log_file
        net = irmod.load(ir)
        ln = parse_lanes(lanes)
        check_writable(build, "--build")
        bits = dma_length_bits(net)  # before writing anything
        if hls:
            from .codegen.hls_project import generate_hls
            typer.echo(f"[1/3] HLS project in {build / 'hls'} (run_hls.tcl exports the IP {vlnv(True)})")
            generate_hls(net, build / "hls", lanes=ln, part=part, ir_file=ir.name)
            typer.echo(f"      the HLS IP must be exported first: `{HLS_EXPORT_COMMAND}` in {build / 'hls'} "
                       f"(it writes {build / 'hls' / HLS_IP_REPO})")
        else:
            from .codegen.rtl_project import generate_rtl
            typer.echo(f"[1/3] RTL in {build / 'rtl'} (package_ip.tcl packages the IP {vlnv(False)})")
            generate_rtl(net, build / "rtl", lanes=ln, ir_file=ir.name, part=part)
        pynq = build / "pynq"
        typer.echo(f"[2/3] PYNQ-Z2 block design and Vivado scripts in {pynq} (AXI DMA length register {bits} bits)")
        generate_pynq(net, pynq, lanes=ln, hls=hls, ir_file=ir.name, part=part)
        vivado = shutil.which("vivado")
        if not vivado:
            raise ToolMissing(f"Vivado ('vivado') is not on the PATH: the scripts are written in {pynq}; where "
                              f"Vivado is, run `vivado -mode batch -source build_bitstream.tcl` in that folder"
                              + (f" (after `{HLS_EXPORT_COMMAND}` in {build / 'hls'})" if hls else ""))
        if hls and not (build / "hls" / HLS_IP_REPO / "component.xml").is_file():
            raise CliError(f"--hls: no exported HLS IP in {build / 'hls' / HLS_IP_REPO}: run `{HLS_EXPORT_COMMAND}` "
                           f"in {build / 'hls'} first")
        log = log_file(build, "vivado")
        typer.echo(f"[3/3] Vivado in batch mode: IP, block design, synthesis, implementation, bitstream (log: {log})")
        with open(log, "w") as fh:
            r = subprocess.run([vivado, "-mode", "batch", "-nojournal", "-nolog", "-source", "build_bitstream.tcl"],
                               cwd=pynq, stdout=fh, stderr=subprocess.STDOUT)
        if r.returncode or not (pynq / BITSTREAM).is_file():
            raise CliError(failed(f"Vivado failed (exit code {r.returncode})", log))
        typer.echo(f"wrote {pynq / BITSTREAM} and {pynq / HWH}; copy them with {pynq / 'unet_accel.json'} to the board")
    _run(body)


@app.command()
def csim(ir: Path = typer.Option(..., help="RUN/model.json"),
         build: Path = typer.Option(Path("build"), help="build folder (BUILD/hls is generated if missing)"),
         images: int = typer.Option(8, min=1, help="validation images from RUN/val.npz"),
         lanes: str = typer.Option(None, help="PINxPOUT; default: the lanes BUILD/hls was generated with (8x8 "
                                              "for a new one)"),
         types: str = typer.Option("native,ap", help="type modes: native, ap or both"),
         logits: bool = typer.Option(False, help="stream the logits out instead of the class map"),
         random_images: bool = typer.Option(False, help="random images instead of RUN/val.npz"),
         seed: int = 0):
    """Compile the HLS project with g++ (both type modes) and compare every layer with the reference."""
    def body():
        from .hls import csim as cs
        modes = tuple(m.strip() for m in types.split(",") if m.strip())
        for m in modes:
            if m not in cs.MODES:
                raise CliError(f"--types {types!r}: modes are native and ap")
        code = cs.main(ir, build, images, modes, parse_lanes(lanes) if lanes else None, logits, random_images, seed)
        raise typer.Exit(code)
    _run(body)


@app.command()
def rtlsim(ir: Path = typer.Option(..., help="RUN/model.json"),
           build: Path = typer.Option(Path("build"), help="build folder (BUILD/rtl is generated if missing)"),
           lanes: Optional[str] = typer.Option(None, help="PINxPOUT (default: the lanes BUILD/rtl was generated "
                                                          "with, else 8x8)"),
           images: int = typer.Option(1, min=1, help="validation images from RUN/val.npz"),
           logits: bool = typer.Option(False, help="stream the logits out instead of the class map"),
           waves: bool = typer.Option(False, help="dump waveforms (BUILD/rtl/dump.vcd; Icarus: dump.fst)"),
           pause: bool = typer.Option(False, help="idle gaps on the input stream, backpressure on the output"),
           simulator: str = typer.Option("verilator", help="verilator (two-state, fast) or icarus (four-state: "
                                                           "an X reaching an output fails)"),
           mult: Optional[str] = typer.Option(None, help="dsp or dsp2 (default: the multipliers BUILD/rtl was "
                                                         "generated with, else dsp)"),
           random_images: bool = False, seed: int = 0):
    """Build the generated RTL with Verilator or Icarus (cocotb) and run images through it, bit for bit."""
    def body():
        from .rtl_sim import rtlsim as rs
        code = rs.main(ir, build, parse_lanes(lanes) if lanes else None, images, waves, logits, random_images,
                       seed, pause, simulator, parse_mult(mult) if mult else None)
        raise typer.Exit(code)
    _run(body)


@app.command()
def pynqsim(ir: Path = typer.Option(..., help="RUN/model.json"),
            build: Path = typer.Option(Path("build"), help="build folder (BUILD/rtl is generated if missing; "
                                                           "BUILD/pynq holds unet.hwh and unet_accel.json)"),
            images: int = typer.Option(2, min=1, help="validation images from RUN/val.npz"),
            logits: bool = typer.Option(False, help="also run each image through infer_logits"),
            lanes: Optional[str] = typer.Option(None, help="PINxPOUT (default: the lanes BUILD/rtl was generated "
                                                           "with, else 8x8)"),
            checks: str = typer.Option("all", help="recovery checks: all, none, or a comma list of flush, length, "
                                                   "abort, split, tlast, long_frame, timeout"),
            random_images: bool = False, seed: int = 0):
    """Run the PYNQ driver, unchanged, against the generated IP on a simulated PYNQ-Z2 (the AXI DMA, the
    cache, the PS7's bus, from BUILD/pynq/unet.hwh): images through infer (and infer_logits), then the
    recovery checks, each followed by an exact image."""
    def body():
        from .rtl_sim import pynqsim as ps
        from .rtl_sim.pynqsim import CHECKS
        chosen = CHECKS if checks == "all" else () if checks == "none" else \
            tuple(c.strip() for c in checks.split(",") if c.strip())
        bad = [c for c in chosen if c not in CHECKS]
        if bad:
            raise CliError(f"--checks {checks!r}: unknown {', '.join(bad)} (checks: {', '.join(CHECKS)}, all, none)")
        code = ps.main(ir, build, parse_lanes(lanes) if lanes else None, images, logits, random_images, seed,
                       chosen, log=lambda *a: typer.echo(" ".join(map(str, a))))
        raise typer.Exit(code)
    _run(body)


@app.command()
def fsicsim(ir: Path = typer.Option(..., help="RUN/model.json"),
            build: Path = typer.Option(Path("build"), help="build folder (BUILD/rtl and BUILD/fsic are generated if "
                                                           "missing)"),
            images: int = typer.Option(1, min=1, help="validation images from RUN/val.npz"),
            level: str = typer.Option("subsystem", help="subsystem (FSIC's fsic.v, the SoC side as a Wishbone "
                                                        "master), chip (Caravel with our firmware on its "
                                                        "management core) or board (FSIC's PYNQ-Z2 design: the ARM's "
                                                        "driver loads the firmware, streams images with its DMA)"),
            logits: bool = typer.Option(False, help="stream the logits out instead of the class map"),
            waves: bool = typer.Option(False, help="dump waveforms (BUILD/rtl/tb_subsys.vcd, tb_chip.vcd or "
                                                   "tb_board.vcd)"),
            simulator: str = typer.Option("icarus", help="icarus (four-state) or, at the subsystem level, verilator "
                                                         "(--timing: fast)"),
            lanes: Optional[str] = typer.Option(None, help="PINxPOUT (default: the lanes BUILD/rtl was generated "
                                                           "with, else 8x8)"),
            wait_irq: bool = typer.Option(False, help="chip level: the firmware waits on the user interrupt "
                                                      "instead of polling (the board level always does)"),
            random_images: bool = False, seed: int = 0):
    """Run images through our USER_PRJ0 inside the real FSIC RTL (a checkout found through
    FSIC_FPGA_ROOT), bit for bit against the reference."""
    def body():
        from .fsic import fsicsim as fs
        code = fs.main(ir, build, images, level, logits, waves, simulator, parse_lanes(lanes) if lanes else None,
                       random_images, seed, wait_irq, log=lambda *a: typer.echo(" ".join(map(str, a))))
        raise typer.Exit(code)
    _run(body)


@app.command()
def report(run: Path = typer.Option(..., help="RUN folder (float.pt, quant.pt, model.json, val.npz)"),
           images: int = typer.Option(2, help="images of RUN/val.npz the C simulation and the RTL run"),
           hw: str = typer.Option("ref,csim,rtl", help="hardware rungs: ref, csim, rtl, fsic (FSIC's subsystem, "
                                                        "needs FSIC_FPGA_ROOT), comma-separated"),
           clock_mhz: float = typer.Option(100.0, help="clock for the frames per second"),
           out: Optional[Path] = typer.Option(None, help="report folder (default RUN/report)"),
           build: Optional[Path] = typer.Option(None, help="build folder of the simulators (default RUN/build)"),
           lanes: str = typer.Option("8x8", help="RTL lanes PINxPOUT")):
    """W5A8 hardware against the float model on the validation split: accuracy, per-class IoU and
    Dice, agreement, per-layer SQNR, confusion matrices, cycles and frames per second, area;
    report.md, report.json and pictures. The C simulation and the RTL must equal the reference."""
    def body():

        from .reporting import make_report
        if out or run.is_dir():  # a missing run folder is make_report's error, not a folder to make
            check_writable(out or run / "report", "--out")
        r = make_report(run, images=images, hw=hw, clock_mhz=clock_mhz, out=out, build=build,
                        lanes=parse_lanes(lanes))
        m = r.figures["metrics"]
        _table("accuracy (validation split)", ["model", "pixel acc", "mIoU", "mean Dice"],
               [(name, _fmt(m[key]["pixel_accuracy"]), _fmt(m[key]["mean_iou"]), _fmt(m[key]["mean_dice"]))
                for key, name in (("float", "float"), ("w5a8", "Brevitas W5A8"),
                                  ("hardware", "simulated hardware (integer)"))])
        typer.echo(f"the simulated hardware agrees with the float model on {100 * r.figures['agreement']['agree']:.2f}% "
                   "of the pixels")
        cy = r.figures["cycles"]
        if cy:
            typer.echo(f"RTL: {cy['mean']:,.0f} cycles an inference, {cy['fps']:.1f} frames/s at {clock_mhz:g} MHz")
        for c in r.checks:
            typer.echo(f"{c.rung}: {c.images} images, {c.values} values, {c.mismatches} mismatches")
        typer.echo(f"report: {r.out / 'report.md'}")
        typer.echo(f"mismatches: {r.mismatches}")
        raise typer.Exit(1 if r.mismatches else 0)
    _run(body)


def _demo_fsic(out: Path, imgs) -> dict | None:
    """demo's last rung: the image through FSIC's subsystem (Verilator --timing: seconds; the chip
    level under Icarus takes close to an hour at 64x64, see the README), when a FSIC checkout is
    set; else it says how to get one."""
    from .fsic import system
    if not os.environ.get(system.ENV):
        typer.echo(f"[5/6] FSIC system: skipped, {system.ENV} is not set ({system.HOW_TO_GET})")
        return None
    typer.echo(f"[5/6] FSIC user project 0 in FSIC's subsystem ({os.environ[system.ENV]}), Verilator, vs "
               "reference (1 image)")
    sub = system.Subsystem(out / "model.json", out / "build", simulator="verilator", log=_detail)
    (r,) = sub.network(imgs[:1], log=_detail)
    bad = r["mismatches"] + (r["cycles"] != r["rtl_cycles"])
    typer.echo(f"      FSIC: {r['mismatches']} mismatching bytes, {r['cycles']:,} cycles (read over Wishbone; the "
               f"accelerator counted {r['rtl_cycles']:,}), {r['seconds']:.1f} s")
    return {"bytes": r["bytes"], "mismatches": bad}


def _scores(m: dict) -> str:
    return f"pixel acc {_fmt(m['pixel_accuracy'])}, mIoU {_fmt(m['mean_iou'])}"


@app.command()
def demo(out: Path = typer.Option(Path("runs/demo"), help="run folder"),
         epochs: int = typer.Option(10, min=1), qat_epochs: int = typer.Option(3, min=0), seed: int = 0,
         widths: str = typer.Option("8,16,32,64,128", help="encoder widths, the last is the bottleneck"),
         size: str = typer.Option("64x64", help="input HEIGHTxWIDTH, multiples of 2^levels"),
         train_length: Optional[int] = typer.Option(None, min=1, help="training images per epoch (default 2048)"),
         val_length: Optional[int] = typer.Option(None, min=4, help="validation images (default 128; the C "
                                                                      "simulation takes 4 of them)")):
    """The main job: train on the synthetic dataset, quantize to W5A8, generate the HLS project and
    the RTL, verify Brevitas == reference == C simulation == RTL, score it against the float model.
    One line a step; the simulators' logs go to RUN/build/logs (-v prints the details)."""
    def body():
        from . import ir as irmod
        from .hls import csim as cs
        from .ir.data import load_val
        from .model.train import TrainConfig, train as do_train
        from .quant.job import quantize as do_quantize
        from .reporting import make_report
        from .rtl_sim.runner import simulate
        cfg = TrainConfig(epochs=epochs, seed=seed, widths=parse_widths(widths), size=parse_size(size),
                          train_length=train_length, val_length=val_length)
        check_writable(out, "--out")
        say = typer.echo
        say(f"[1/6] training the float UNet on the synthetic dataset ({epochs} epochs) -> {out}")
        m = do_train(cfg, out)
        say(f"      float: {_scores(m['val'])} ({m['seconds']:.0f} s)")
        say(f"[2/6] W5A8 quantization ({qat_epochs} QAT epochs), export, Brevitas vs reference")
        q = do_quantize(out / "float.pt", out, epochs=qat_epochs, seed=seed, train_length=train_length,
                        val_length=val_length, log=_detail)
        ex = q["exactness"]
        brevitas_values = sum(r["values"] for r in ex["tensors"])
        say(f"      W5A8: {_scores(q['w5a8'])}; Brevitas vs reference: {ex['mismatches']} mismatches in "
            f"{brevitas_values:,} values ({ex['images']} images)")
        say(f"[3/6] C/HLS project in {out / 'build' / 'hls'}, C simulation vs reference (4 images)")
        reports = cs.run(out / "model.json", out / "build", images=4, modes=("native",), log=_detail)
        if _options["verbose"]:
            cs.print_report(reports)
        csim_mism = sum(r.mismatches for r in reports)
        csim_values = sum(v[0] + v[1] for r in reports for v in r.tensors.values())
        say(f"      C simulation: {csim_mism} mismatches in {csim_values:,} values, every layer")
        say(f"[4/6] RTL in {out / 'build' / 'rtl'} (8x8 lanes), Verilator + cocotb vs reference (1 image)")
        net = irmod.load(out / "model.json")
        imgs, _ = load_val(out / "model.json", net, 1)
        rtl = simulate(out / "model.json", imgs, out / "build", log=_detail)
        rtl_mism = sum(r["mismatches"] for r in rtl["images"])
        rtl_cycles = rtl["images"][0]["cycles"]
        say(f"      RTL: {rtl_mism} mismatching bytes, {rtl_cycles:,} cycles (ideal "
            f"{sum(r['macs'] for r in irmod.summary(net)) / 64:,.0f} at 64 MACs a cycle), {rtl['seconds']:.1f} s")
        fsic = _demo_fsic(out, imgs)
        say(f"[6/6] report: float vs simulated W5A8 hardware on the validation split -> {out / 'report'}")
        rep = make_report(out, images=1, hw="ref,csim,rtl" + (",fsic" if fsic else ""))
        fm = rep.figures["metrics"]
        _table(f"accuracy on {rep.figures['val_images']} synthetic validation images",
               ["model", "pixel acc", "mIoU", "mean Dice"],
               [(name, _fmt(fm[key]["pixel_accuracy"]), _fmt(fm[key]["mean_iou"]), _fmt(fm[key]["mean_dice"]))
                for key, name in (("float", "float"), ("w5a8", "Brevitas W5A8"),
                                  ("hardware", "simulated hardware (integer)"))])
        _table("verification ladder", ["rung", "compared with", "values", "mismatches"],
               [("Brevitas W5A8 (float64)", "NumPy reference", f"{brevitas_values:,}", ex["mismatches"]),
                ("C simulation", "NumPy reference", f"{csim_values:,}", csim_mism),
                ("RTL (Verilator)", "NumPy reference", f"{sum(r['expected_bytes'] for r in rtl['images']):,}",
                 rtl_mism),
                *([("FSIC subsystem (Verilator)", "NumPy reference", f"{fsic['bytes']:,}", fsic["mismatches"])]
                  if fsic else [])])
        say(f"the simulated hardware's class map agrees with the float model's on "
            f"{100 * rep.figures['agreement']['agree']:.2f}% of the pixels")
        say(f"artifacts in {out}: float.pt, model.onnx, model.json/.npz, val.npz, plots, build/hls, "
            "build/rtl" + (", build/fsic" if fsic else ""))
        say(f"tool logs: {out / 'build' / 'logs'}")
        say(f"report: {rep.out / 'report.md'}")
        total = ex["mismatches"] + csim_mism + rtl_mism + (fsic["mismatches"] if fsic else 0) + rep.mismatches
        say(f"mismatches: {total}")
        raise typer.Exit(1 if total else 0)
    _run(body)


def main(argv=None):
    app(args=argv, prog_name="unetaccel")


if __name__ == "__main__":
    main()
