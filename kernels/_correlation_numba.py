"""numba kernels for the 7x7 cost volume: NCHW or NHWC in, channels-last rows inside, NCHW out.

Optionally ``first`` is warped by a flow on the way in (bilinear, border; see
:func:`_sample_row`): PF-AFN correlates the clothes feature warped by the previous level's flow,
and sampling it row by row here replaces a full warped copy made by OpenVINO (a GridSample plus
two layout transposes, about 1 ms of the default model's flow levels).

Why this shape of kernel:

* numba turns a loop into wide SIMD reliably only when it is a reduction (no stores that might
  alias the loads). So every output value is a dot product over C with both operands contiguous,
  i.e. channels-last, and ``fastmath`` allows ``reassoc`` so LLVM can split each sum into lanes.
* NCHW inputs are transposed on the fly. Each parallel chunk of output rows converts them one
  image row at a time into small buffers that stay in L2: a ring of the 7 rows of ``second`` that
  the current output row needs (zero-padded by 3 pixels left and right, so no shift needs a bounds
  check) and the current row of ``first``. Every input row is transposed once (plus 6 rows per chunk), on all
  threads, and no full-size transposed copy is ever written; numpy's transpose-and-copy of both
  inputs alone costs 17 ms here.
* The inner loop takes two neighbouring pixels at once: x against second[x-3 .. x+3] and x+1
  against second[x-2 .. x+4] share 6 of their 8 rows, so 10 vector loads feed 14 fused
  multiply-adds and the 14 sums stay in registers.

Measured on one core at (1, 256, 128, 96): about 4.7 ms of dot products and 3.5 ms of row
transposes, which LLVM leaves scalar. That is why the app asks OpenVINO for NHWC pyramids: their
rows are copied, not transposed.

``fastmath`` is exactly ``reassoc`` and ``contract`` (FMA): both only change rounding. NaN and inf
still propagate exactly as in the numpy twin, shifts out of the image included (an inf times the
zero padding is NaN there), which ``nnan``/``ninf`` would not guarantee.

Everything here is also plain Python: with ``NUMBA_DISABLE_JIT=1`` these functions run unchanged
(slowly), which the tests use to check the kernel logic apart from the compiler.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from kernels._shape import MAX_DISPLACEMENT, WINDOW

_FASTMATH = {"reassoc", "contract"}
# A constant trip count lets LLVM unroll the transpose's inner loop completely.
_TRANSPOSE_BLOCK = 16


@njit(nogil=True, cache=True)
def _row_to_channels_last(source, n, y, row, offset):
    """Copy source[n, :, y, :] (C, W) into row[offset : offset + W] (W, C)."""
    channels = source.shape[1]
    width = source.shape[3]
    blocked = channels - channels % _TRANSPOSE_BLOCK
    for c0 in range(0, blocked, _TRANSPOSE_BLOCK):
        for x in range(width):
            # Unsigned indices: numba wraps every signed index for negative values (a compare
            # and a select per access); skipping that makes this copy about 20% faster.
            xu = np.uint64(x)
            for i in range(_TRANSPOSE_BLOCK):
                c = np.uint64(c0 + i)
                row[xu + np.uint64(offset), c] = source[n, c, y, xu]
    for x in range(width):
        for c in range(blocked, channels):
            row[offset + x, c] = source[n, c, y, x]


@njit(nogil=True, cache=True)
def _load_row(source, n, y, row, offset, channels_last):
    """Copy image row y of source (NCHW, or NHWC when channels_last) into row[offset:] as (W, C)."""
    if channels_last:
        width = source.shape[2]
        row[offset : offset + width] = source[n, y]
    else:
        _row_to_channels_last(source, n, y, row, offset)


@njit(nogil=True, cache=True)
def _sample_row(source, flow, n, y, row, channels_last):
    """row[x] = source sampled at flow[n, :, y, x] for every x: one warped image row as (W, C).

    ``flow`` is PF-AFN's normalised grid (channel 0 = x, 1 = y, -1 and 1 the centres of the edge
    pixels), read as ``grid_sample(..., mode="bilinear", padding_mode="border",
    align_corners=True)`` does: positions are clamped into the image, so the weights of a corner
    past the edge are zero. A NaN position counts as 0, the first pixel.
    """
    if channels_last:
        height, width, channels = source.shape[1:]
    else:
        channels, height, width = source.shape[1:]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    x_scale = np.float32((width - 1) * 0.5)
    y_scale = np.float32((height - 1) * 0.5)
    x_limit = np.float32(width - 1)
    y_limit = np.float32(height - 1)
    for x in range(row.shape[0]):
        ix = (flow[n, 0, y, x] + one) * x_scale
        iy = (flow[n, 1, y, x] + one) * y_scale
        # "not >" sends NaN to 0 as well; int() of a NaN would index anywhere.
        ix = ix if ix > zero else zero
        iy = iy if iy > zero else zero
        ix = ix if ix < x_limit else x_limit
        iy = iy if iy < y_limit else y_limit
        x0 = int(ix)
        y0 = int(iy)
        x1 = x0 + 1 if x0 < width - 1 else x0
        y1 = y0 + 1 if y0 < height - 1 else y0
        wx = ix - np.float32(x0)
        wy = iy - np.float32(y0)
        w00 = (one - wx) * (one - wy)
        w01 = wx * (one - wy)
        w10 = (one - wx) * wy
        w11 = wx * wy
        pixel = row[x]
        if channels_last:
            v00 = source[n, y0, x0]
            v01 = source[n, y0, x1]
            v10 = source[n, y1, x0]
            v11 = source[n, y1, x1]
            for c in range(channels):
                pixel[c] = w00 * v00[c] + w01 * v01[c] + w10 * v10[c] + w11 * v11[c]
        else:
            for c in range(channels):
                pixel[c] = (
                    w00 * source[n, c, y0, x0]
                    + w01 * source[n, c, y0, x1]
                    + w10 * source[n, c, y1, x0]
                    + w11 * source[n, c, y1, x1]
                )


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _correlate_pixel(first_row, second_row, x, out, n, k0, y, scale):
    """Output channels k0 .. k0+6 at (y, x): first_row[x] against second_row[x .. x+6] (padded)."""
    channels = first_row.shape[1]
    pixel = first_row[x]
    s0 = second_row[x]
    s1 = second_row[x + 1]
    s2 = second_row[x + 2]
    s3 = second_row[x + 3]
    s4 = second_row[x + 4]
    s5 = second_row[x + 5]
    s6 = second_row[x + 6]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = np.float32(0.0)
    for c in range(channels):
        f = pixel[c]
        a0 += f * s0[c]
        a1 += f * s1[c]
        a2 += f * s2[c]
        a3 += f * s3[c]
        a4 += f * s4[c]
        a5 += f * s5[c]
        a6 += f * s6[c]
    out[n, k0, y, x] = a0 * scale
    out[n, k0 + 1, y, x] = a1 * scale
    out[n, k0 + 2, y, x] = a2 * scale
    out[n, k0 + 3, y, x] = a3 * scale
    out[n, k0 + 4, y, x] = a4 * scale
    out[n, k0 + 5, y, x] = a5 * scale
    out[n, k0 + 6, y, x] = a6 * scale


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _correlate_row(first_row, second_row, out, n, k0, y, scale):
    """Output channels k0 .. k0+6 of row y.

    first_row is (W, C); second_row is (W + 6, C) with 3 zero pixels on each side, so image column
    x + dx is padded index x + dx + 3 and no shift needs a bounds check.
    """
    width, channels = first_row.shape
    for x in range(0, width - 1, 2):
        pixel_a = first_row[x]
        pixel_b = first_row[x + 1]
        s0 = second_row[x]
        s1 = second_row[x + 1]
        s2 = second_row[x + 2]
        s3 = second_row[x + 3]
        s4 = second_row[x + 4]
        s5 = second_row[x + 5]
        s6 = second_row[x + 6]
        s7 = second_row[x + 7]
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = np.float32(0.0)
        b0 = b1 = b2 = b3 = b4 = b5 = b6 = np.float32(0.0)
        for c in range(channels):
            fa = pixel_a[c]
            fb = pixel_b[c]
            v0 = s0[c]
            v1 = s1[c]
            v2 = s2[c]
            v3 = s3[c]
            v4 = s4[c]
            v5 = s5[c]
            v6 = s6[c]
            v7 = s7[c]
            a0 += fa * v0
            a1 += fa * v1
            a2 += fa * v2
            a3 += fa * v3
            a4 += fa * v4
            a5 += fa * v5
            a6 += fa * v6
            b0 += fb * v1
            b1 += fb * v2
            b2 += fb * v3
            b3 += fb * v4
            b4 += fb * v5
            b5 += fb * v6
            b6 += fb * v7
        out[n, k0, y, x] = a0 * scale
        out[n, k0 + 1, y, x] = a1 * scale
        out[n, k0 + 2, y, x] = a2 * scale
        out[n, k0 + 3, y, x] = a3 * scale
        out[n, k0 + 4, y, x] = a4 * scale
        out[n, k0 + 5, y, x] = a5 * scale
        out[n, k0 + 6, y, x] = a6 * scale
        out[n, k0, y, x + 1] = b0 * scale
        out[n, k0 + 1, y, x + 1] = b1 * scale
        out[n, k0 + 2, y, x + 1] = b2 * scale
        out[n, k0 + 3, y, x + 1] = b3 * scale
        out[n, k0 + 4, y, x + 1] = b4 * scale
        out[n, k0 + 5, y, x + 1] = b5 * scale
        out[n, k0 + 6, y, x + 1] = b6 * scale
    if width % 2 == 1:
        _correlate_pixel(first_row, second_row, width - 1, out, n, k0, y, scale)


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _correlate_outside(first_row, out, n, k0, y, scale):
    """Output channels k0 .. k0+6 of row y for a shift dy that leaves the image.

    The answer is 0, except that the numpy twin multiplies by the zero padding, so a pixel of
    ``first`` holding inf or NaN gives NaN there; multiplying by zero here too keeps the two equal
    (without ``nnan``/``nsz`` LLVM may not fold ``v * 0`` away).
    """
    width, channels = first_row.shape
    for x in range(width):
        pixel = first_row[x]
        total = np.float32(0.0)
        for c in range(channels):
            total += pixel[c] * np.float32(0.0)
        for j in range(WINDOW):
            out[n, k0 + j, y, x] = total * scale


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _correlate_rows(first, second, out, n, y_start, y_stop, channels_last, flow):
    """Output rows y_start .. y_stop-1 of image n; see :func:`correlation_rows`."""
    if channels_last:
        height, width, channels = first.shape[1:]
    else:
        channels, height, width = first.shape[1:]
    scale = np.float32(1.0 / channels)
    # second's rows y-3 .. y+3, channels-last and zero-padded by 3 pixels left and right;
    # image row r lives in slot r % 7. The padding is written once, here.
    second_rows = np.zeros((WINDOW, width + 2 * MAX_DISPLACEMENT, channels), dtype=np.float32)
    first_row = np.empty((width, channels), dtype=np.float32)
    for r in range(max(0, y_start - MAX_DISPLACEMENT), min(height, y_start + MAX_DISPLACEMENT)):
        _load_row(second, n, r, second_rows[r % WINDOW], MAX_DISPLACEMENT, channels_last)
    for y in range(y_start, y_stop):
        incoming = y + MAX_DISPLACEMENT
        if incoming < height:
            _load_row(
                second, n, incoming, second_rows[incoming % WINDOW], MAX_DISPLACEMENT, channels_last
            )
        if flow is None:
            _load_row(first, n, y, first_row, 0, channels_last)
        else:
            _sample_row(first, flow, n, y, first_row, channels_last)
        for dy_index in range(WINDOW):
            r = y + dy_index - MAX_DISPLACEMENT
            k0 = dy_index * WINDOW
            if 0 <= r < height:
                _correlate_row(first_row, second_rows[r % WINDOW], out, n, k0, y, scale)
            else:
                _correlate_outside(first_row, out, n, k0, y, scale)


@njit(parallel=True, nogil=True, cache=True)
def correlation_rows(first, second, out, rows_per_chunk, channels_last, flow):
    """Fill out (N, 49, H, W) with the cost volume of first and second, in parallel.

    The inputs are (N, C, H, W), or (N, H, W, C) when ``channels_last`` (rows then need no
    transposing). ``flow`` is None, or an (N, 2, H, W) grid that ``first`` is sampled at first
    (:func:`_sample_row`). All arrays are C-contiguous float32 and ``out`` shares no memory with
    the inputs (the caller checks). Work is split into chunks of ``rows_per_chunk`` output rows of one
    image; each chunk keeps its own channels-last ring of ``second`` rows, so chunks run
    independently.
    """
    batch, height = out.shape[0], out.shape[2]
    chunks_per_image = (height + rows_per_chunk - 1) // rows_per_chunk
    for chunk in prange(batch * chunks_per_image):
        n = chunk // chunks_per_image
        y_start = (chunk - n * chunks_per_image) * rows_per_chunk
        _correlate_rows(
            first,
            second,
            out,
            n,
            y_start,
            min(height, y_start + rows_per_chunk),
            channels_last,
            flow,
        )


@njit(nogil=True, cache=True)
def correlation_rows_serial(first, second, out, channels_last, flow):
    """:func:`correlation_rows` on the calling thread only.

    For small inputs: a parallel call has to wait until every worker thread has been scheduled,
    which on a busy 2-core machine (OpenVINO's threads, the GUI) can take a whole scheduler time
    slice (8 ms measured), far more than the work itself.
    """
    for n in range(out.shape[0]):
        _correlate_rows(first, second, out, n, 0, out.shape[2], channels_last, flow)


def rows_per_chunk(batch: int, height: int) -> int:
    """Chunk height that gives each numba thread one run of rows per call.

    numba's ``prange`` hands each thread one contiguous block of iterations, so more chunks than
    threads buy no balance; they only re-transpose the 6 rows a chunk needs above its first row.
    """
    chunks_per_image = max(1, -(-get_num_threads() // batch))
    return max(1, -(-height // chunks_per_image))
