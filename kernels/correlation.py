"""PF-AFN's 7x7 correlation (cost volume): numba kernel, pure-numpy twin, and the switch between them.

    out[n, k, y, x] = (1 / C) * sum_c first[n, c, y, x] * second[n, c, y + dy, x + dx]

for dy, dx in -3..3 and k = (dy + 3) * 7 + (dx + 3), with ``second`` taken as zero outside the
image. This is the official CUDA kernel's ordering; ``optimization.archs.correlation`` is the torch
twin of the same formula.

PF-AFN correlates the clothes feature warped by the previous level's flow. Given that ``flow``,
``first`` is warped as it is read (``grid_sample`` bilinear, border, align_corners=True, the
convention of every warp inside PF-AFN's AFWM), so no warped copy is ever written.

The backend is "numba" unless ``TRYON_CORRELATION_BACKEND=numpy`` is set when this module is
imported, or :func:`set_backend` says otherwise. numba itself is imported on first use, not here, so
importing ``kernels`` stays cheap; if that import fails the numpy backend takes over with a logged
warning.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np

from kernels._shape import MAX_DISPLACEMENT, NUM_SHIFTS, WINDOW

log = logging.getLogger(__name__)

BACKENDS = ("numba", "numpy")
BACKEND_ENV = "TRYON_CORRELATION_BACKEND"
# Inputs with fewer elements than this run on the calling thread alone. PF-AFN's two coarsest
# levels (256 x 8 x 6 and 256 x 16 x 12) take well under 0.1 ms that way, while a parallel call
# can wait a whole scheduler time slice for its second thread when the cores are busy.
SERIAL_BELOW = 100_000

_lock = threading.Lock()
# numba's fallback "workqueue" threading layer aborts the process when two threads launch parallel
# kernels at once (omp and tbb do not). Each call already uses every numba thread, so serialising
# calls costs nothing and keeps a stray second caller (warmup thread, benchmark) safe everywhere.
_kernel_lock = threading.Lock()
_backend: str | None = None  # None until resolved; see _resolve_backend
_numba_kernels = None  # the kernels._correlation_numba module once imported
_numba_error: str | None = None


def _read_env() -> str:
    value = os.environ.get(BACKEND_ENV, "").strip().lower()
    if value in ("", "auto"):
        return "numba"
    if value not in BACKENDS:
        log.warning("%s=%r is not one of %s; using numba", BACKEND_ENV, value, BACKENDS)
        return "numba"
    return value


_requested: str = _read_env()


def _load_numba():
    """Import the numba kernels once; None (and the reason kept) when numba is unusable."""
    global _numba_kernels, _numba_error
    if _numba_kernels is None and _numba_error is None:
        try:
            from kernels import _correlation_numba
        except Exception as error:  # ImportError, or numba failing on an odd platform
            _numba_error = f"{type(error).__name__}: {error}"
        else:
            _numba_kernels = _correlation_numba
    return _numba_kernels


def _resolve_backend() -> str:
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                if _requested == "numba" and _load_numba() is None:
                    log.warning(
                        "numba is unavailable (%s); correlation falls back to numpy", _numba_error
                    )
                    _backend = "numpy"
                else:
                    _backend = _requested
    return _backend


def get_backend() -> str:
    """The backend :func:`correlation` uses now: "numba" or "numpy".

    The first call imports numba (about 0.2 s) unless numpy was selected.
    """
    return _resolve_backend()


def set_backend(name: str) -> None:
    """Select the backend for every later :func:`correlation` call in this process.

    Args:
        name: "numba" (the compiled kernel) or "numpy" (the reference implementation).

    Raises:
        ValueError: ``name`` is not a known backend.
        RuntimeError: "numba" was asked for and numba cannot be imported.
    """
    global _backend, _requested
    if name not in BACKENDS:
        raise ValueError(f"unknown correlation backend {name!r}; expected one of {BACKENDS}")
    with _lock:
        if name == "numba" and _load_numba() is None:
            raise RuntimeError(f"the numba correlation backend is unavailable: {_numba_error}")
        _requested = name
        _backend = name


def warmup() -> float:
    """Compile (or load from numba's cache) the numba kernels on a tiny input.

    Meant to run in the background at application start so the first real correlation does not pay
    for compilation (seconds the first time; well under a second once cached in ``__pycache__`` or
    ``NUMBA_CACHE_DIR``). Does nothing with the numpy backend.

    Returns:
        Seconds spent.
    """
    start = time.perf_counter()
    if _resolve_backend() == "numba":
        # Both entry points in both layouts, with and without a flow, whatever SERIAL_BELOW
        # says; 9 columns take the two-pixel loop and the single-pixel tail.
        nchw = np.zeros((1, 2, 4, 9), dtype=np.float32)
        nhwc = np.zeros((1, 4, 9, 2), dtype=np.float32)
        flow = np.zeros((1, 2, 4, 9), dtype=np.float32)
        out = np.empty((1, NUM_SHIFTS, 4, 9), dtype=np.float32)
        with _kernel_lock:
            for first, channels_last in ((nchw, False), (nhwc, True)):
                for grid in (None, flow):
                    _numba_kernels.correlation_rows_serial(first, first, out, channels_last, grid)
                    _numba_kernels.correlation_rows(first, first, out, 2, channels_last, grid)
    return time.perf_counter() - start


def compiled_in_this_process() -> int:
    """How many kernel signatures this process compiled, rather than loaded from numba's cache.

    0 after a warm-up means the kernels came from the cache (or the numpy backend is in use).
    """
    if _numba_kernels is None:
        return 0
    dispatchers = (_numba_kernels.correlation_rows, _numba_kernels.correlation_rows_serial)
    return sum(sum(d.stats.cache_misses.values()) for d in dispatchers)


LAYOUTS = ("NCHW", "NHWC")


def _as_input(array, name: str, axes: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 4:
        raise ValueError(f"{name} must be 4-D ({', '.join(axes)}); got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if 0 in array.shape:
        raise ValueError(f"{name} has an empty dimension: shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _validated_inputs(first, second, layout: str) -> tuple[np.ndarray, np.ndarray]:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}")
    first = _as_input(first, "first", layout)
    second = _as_input(second, "second", layout)
    if first.shape != second.shape:
        raise ValueError(
            f"first and second must have the same shape; got {first.shape} and {second.shape}"
        )
    return first, second


def _image_size(array: np.ndarray, layout: str) -> tuple[int, int, int]:
    """(batch, height, width) of a 4-D array in ``layout``."""
    if layout == "NHWC":
        return array.shape[0], array.shape[1], array.shape[2]
    return array.shape[0], array.shape[2], array.shape[3]


def _validated_flow(flow, first: np.ndarray, layout: str) -> np.ndarray | None:
    if flow is None:
        return None
    flow = _as_input(flow, "flow", "N2HW")
    batch, height, width = _image_size(first, layout)
    if flow.shape != (batch, 2, height, width):
        raise ValueError(
            f"flow must have shape {(batch, 2, height, width)} (N, 2, H, W of first); "
            f"got {flow.shape}"
        )
    return flow


def _validated_out(out, first: np.ndarray, second: np.ndarray, layout: str) -> np.ndarray:
    batch, height, width = _image_size(first, layout)
    expected = (batch, NUM_SHIFTS, height, width)
    if out is None:
        return np.empty(expected, dtype=np.float32)
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy array; got {type(out).__name__}")
    if out.shape != expected or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous float32 array of shape {expected}; "
            f"got {out.dtype} {out.shape}{'' if out.flags.c_contiguous else ' (not C-contiguous)'}"
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if np.may_share_memory(out, first) or np.may_share_memory(out, second):
        raise ValueError("out must not share memory with first or second")
    return out


def _validated(first, second, out, layout: str, flow):
    first, second = _validated_inputs(first, second, layout)
    flow = _validated_flow(flow, first, layout)
    out = _validated_out(out, first, second, layout)
    if flow is not None and np.may_share_memory(out, flow):
        raise ValueError("out must not share memory with flow")
    return first, second, out, flow


def correlation(
    first, second, out: np.ndarray | None = None, layout: str = "NCHW", flow=None
) -> np.ndarray:
    """Cost volume of ``first`` against ``second`` over 7x7 shifts (formula in the module docstring).

    Inputs of any real dtype and memory layout are accepted and converted to C-contiguous float32
    first (a copy only when they are not that already). The OpenVINO outputs the app passes in are
    already C-contiguous float32, so the hot path copies nothing.

    Args:
        first: (N, C, H, W) features, or (N, H, W, C) with ``layout="NHWC"``; in PF-AFN the
            clothes features warped by the previous flow.
        second: features of the same shape; in PF-AFN the person features.
        out: optional C-contiguous float32 (N, 49, H, W) array to write into, so repeated calls can
            reuse one buffer. It must not overlap the inputs.
        layout: "NCHW" or "NHWC", the order of the inputs' axes. NHWC is faster: the kernel
            works on channels-last rows and need not transpose them. The output is NCHW either way.
        flow: optional (N, 2, H, W) normalised sampling grid (x then y, PF-AFN's flow tensor);
            ``first`` is then read warped by it, as ``grid_sample(first, flow.permute(0, 2, 3,
            1), mode="bilinear", padding_mode="border", align_corners=True)`` would give.

    Returns:
        (N, 49, H, W) float32, C-contiguous (``out`` itself when given); channel k = (dy + 3) * 7 +
        (dx + 3).

    Raises:
        ValueError: the inputs are not 4-D real arrays of one shape with no empty dimension, the
            layout is unknown, ``flow`` does not match them, or ``out`` does not fit.
    """
    first, second, out, flow = _validated(first, second, out, layout, flow)
    if _resolve_backend() == "numba":
        channels_last = layout == "NHWC"
        impl = _numba_kernels
        with _kernel_lock:
            if first.size < SERIAL_BELOW:
                impl.correlation_rows_serial(first, second, out, channels_last, flow)
            else:
                chunk = impl.rows_per_chunk(out.shape[0], out.shape[2])
                impl.correlation_rows(first, second, out, chunk, channels_last, flow)
        return out
    return _reference_into(first, second, out, layout, flow)


def correlation_reference(first, second, layout: str = "NCHW", flow=None) -> np.ndarray:
    """Pure-numpy twin of :func:`correlation` (warp, zero-pad, then one product-sum per shift).

    Same arguments, validation and result as :func:`correlation`; used as the numpy backend and as
    the reference in tests. About two orders of magnitude slower than the numba kernel.
    """
    first, second, out, flow = _validated(first, second, None, layout, flow)
    return _reference_into(first, second, out, layout, flow)


def _sample_reference(source: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """(N, C, H, W) ``source`` sampled at the (N, 2, H, W) grid ``flow``; see ``_sample_row``."""
    _, _, height, width = source.shape
    one, zero = np.float32(1.0), np.float32(0.0)

    def position(grid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        exact = (grid + one) * np.float32((size - 1) * 0.5)
        exact = np.where(exact > zero, exact, zero)  # NaN goes to 0 too
        exact = np.minimum(exact, np.float32(size - 1))
        low = exact.astype(np.intp)
        return low, np.minimum(low + 1, size - 1), exact - low.astype(np.float32)

    x0, x1, wx = position(flow[:, 0], width)
    y0, y1, wy = position(flow[:, 1], height)
    batch = np.arange(source.shape[0])[:, None, None]
    # Advanced indices around a slice put their axes first: each gather is (N, H, W, C).
    corners = [source[batch, :, y, x] for y in (y0, y1) for x in (x0, x1)]
    weights = [(one - wx) * (one - wy), wx * (one - wy), (one - wx) * wy, wx * wy]
    sampled = sum(w[..., None] * corner for w, corner in zip(weights, corners, strict=True))
    return np.ascontiguousarray(sampled.transpose(0, 3, 1, 2))


def _reference_into(
    first: np.ndarray, second: np.ndarray, out: np.ndarray, layout: str, flow: np.ndarray | None
) -> np.ndarray:
    if layout == "NHWC":
        first, second = first.transpose(0, 3, 1, 2), second.transpose(0, 3, 1, 2)
    if flow is not None:
        first = _sample_reference(first, flow)
    _, channels, height, width = first.shape
    d = MAX_DISPLACEMENT
    padded = np.pad(second, ((0, 0), (0, 0), (d, d), (d, d)))
    for dy_index in range(WINDOW):
        for dx_index in range(WINDOW):
            shifted = padded[:, :, dy_index : dy_index + height, dx_index : dx_index + width]
            # einsum sums over C without materialising the (N, C, H, W) product.
            np.einsum("nchw,nchw->nhw", first, shifted, out=out[:, dy_index * WINDOW + dx_index])
    out *= np.float32(1.0 / channels)
    return out
