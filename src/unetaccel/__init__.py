"""unetaccel: a tiny segmentation UNet, quantized to W5A8 and compiled to hardware.

Stages import one way: model -> quant -> ir -> codegen -> hls / rtl_sim -> fsic.
Nothing from ``unetaccel.ir`` on imports torch or brevitas.
"""

__version__ = "0.1.0"

#: The notebook API (unetaccel.api), resolved on first use so that `import unetaccel` stays light
#: (no torch): train, quantize, load_ir, validation_images, reference, generate, csim, rtlsim, report.
#: No submodule of the package bears one of these names: importing a submodule sets it as an
#: attribute of the package, which would then hide the function (tests/test_api.py checks this).
API = ("train", "quantize", "load_ir", "validation_images", "reference", "generate", "csim", "rtlsim", "report",
       "TrainResult", "QuantizeResult", "ReferenceResult", "CsimResult", "RtlResult", "GenerateResult")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from . import api
        value = getattr(api, name)
        globals()[name] = value  # resolved once; dir() and later look-ups see the function itself
        return value
    raise AttributeError(f"module 'unetaccel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))
