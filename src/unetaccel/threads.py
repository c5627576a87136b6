"""How many threads torch uses (training, quantization, the report's float model).

torch starts one OpenMP thread per core. Two torch jobs on a 2-core machine (two pytest-xdist
workers, or a demo beside the test suite) then run four spinning threads on two cores, and an
iteration took 20x longer than on an idle machine. So unetaccel sets torch's threads itself,
before it trains, quantizes or scores:

- ``UNETACCEL_THREADS=N`` (or ``unetaccel --threads N``, which sets it) when given;
- else the cores this process may run on (``os.sched_getaffinity``: a container's or a
  ``taskset``'s limit, not the machine's count), divided among the pytest-xdist workers when it
  runs under them (``PYTEST_XDIST_WORKER_COUNT``), at least one.
"""
from __future__ import annotations

import os

from .errors import UnetaccelError

ENV = "UNETACCEL_THREADS"


class ThreadsError(UnetaccelError, ValueError):
    """A thread count that is not a positive integer; the message names where it came from."""


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_threads(environ=None) -> int:
    """The thread count: UNETACCEL_THREADS, else the usable cores shared among pytest-xdist workers."""
    env = os.environ if environ is None else environ
    given = env.get(ENV)
    if given is not None:
        return check_threads(given, f"{ENV}={given}")
    workers = env.get("PYTEST_XDIST_WORKER_COUNT")
    share = int(workers) if workers and workers.isdigit() and int(workers) > 0 else 1
    return max(1, usable_cores() // share)


def check_threads(value, where: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ThreadsError(f"{where}: the number of threads must be a positive integer")
    return n


def apply_torch_threads() -> int:
    """Set torch's intra-op threads to torch_threads() and return the count (imports torch)."""
    import torch

    n = torch_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
