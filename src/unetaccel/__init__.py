"""unetaccel: a tiny segmentation UNet, quantized to W5A8 and compiled to hardware.

Stages import one way: model -> quant -> ir -> codegen -> hls / rtl_sim -> fsic.
Nothing from ``unetaccel.ir`` on imports torch or brevitas.
"""

__version__ = "0.1.0"
