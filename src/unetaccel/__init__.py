"""unetaccel: a tiny segmentation UNet, quantized to W5A8 and compiled to hardware.

Stages import one way: model -> quant -> ir -> codegen -> hls / rtl_sim -> fsic.
Nothing from ``unetaccel.ir`` on imports torch or brevitas.
"""

__version__ = "0.1.0"

#: The notebook API (unetaccel.api), resolved on first use so that `import unetaccel` stays light
#: (no torch): train, quantize, load_ir, validation_images, reference, generate, csim, rtlsim, report.
API = ("train", "quantize", "load_ir", "validation_images", "reference", "generate", "csim", "rtlsim", "report",
       "TrainResult", "QuantizeResult", "ReferenceResult", "CsimResult", "RtlResult", "GenerateResult")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'unetaccel' has no attribute {name!r}")
