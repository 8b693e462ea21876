"""Compute kernels the runtime needs outside OpenVINO: numpy and numba only, nothing else of ours.

``correlation`` is PF-AFN's 7x7 cost volume, with a numba kernel, a pure-numpy twin and a switch
between them (see :mod:`kernels.correlation`).
"""

from __future__ import annotations

from kernels._shape import MAX_DISPLACEMENT, NUM_SHIFTS
from kernels.correlation import (
    BACKEND_ENV,
    BACKENDS,
    LAYOUTS,
    compiled_in_this_process,
    correlation,
    correlation_reference,
    get_backend,
    set_backend,
    warmup,
)

__all__ = [
    "BACKEND_ENV",
    "BACKENDS",
    "LAYOUTS",
    "MAX_DISPLACEMENT",
    "NUM_SHIFTS",
    "correlation",
    "compiled_in_this_process",
    "correlation_reference",
    "get_backend",
    "set_backend",
    "warmup",
]
