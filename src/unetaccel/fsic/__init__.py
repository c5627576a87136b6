"""The FSIC rung of the verification ladder: our USER_PRJ0 (BUILD/fsic, emitted by codegen)
inside the real FSIC RTL, found through FSIC_FPGA_ROOT (a checkout of
bol-edu/fsic_fpga on GitHub; never copied into this project).

- system: finding the checkout, building the subsystem under Icarus, the command scripts its
  testbench runs, and the whole-network / single-layer runs compared with the reference.
- fsicsim: `unetaccel fsicsim`.
"""
