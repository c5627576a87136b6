"""`python -m unetaccel.pynq validate --bit unet.bit --val val.npz [--ir model.json]`."""
import sys

from .validate import main

if __name__ == "__main__":
    sys.exit(main())
