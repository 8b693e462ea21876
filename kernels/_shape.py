"""The cost volume's window, shared by the correlation switch and the numba kernels it loads."""

from __future__ import annotations

MAX_DISPLACEMENT = 3
"""Largest shift in pixels, along y and along x."""
WINDOW = 2 * MAX_DISPLACEMENT + 1
NUM_SHIFTS = WINDOW * WINDOW
"""Channels of the cost volume (49): one per shift, dy-major."""
