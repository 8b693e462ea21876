"""The correlation kernels: numba against the numpy twin, shift order, backends, validation, torch twin."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import correlation, correlation_reference

REPO_ROOT = Path(__file__).resolve().parents[2]
LEVEL_SHAPES = [(1, 256, 8 * 2**i, 6 * 2**i) for i in range(5)]
ODD_SHAPES = [
    (1, 1, 1, 1),
    (1, 3, 2, 3),
    (2, 33, 5, 7),
    (1, 3, 1, 9),
    (2, 1, 7, 1),
    (1, 33, 4, 8),  # even width: two-pixel steps only; odd widths also take the one-pixel tail
    (2, 17, 9, 12),
]


def random_pair(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


def assert_close(actual, expected, tolerance=1e-5):
    """Agreement to ``tolerance`` relative to the largest magnitude in ``expected``."""
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance * scale)


def run_python(script: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env_overrides}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )


@pytest.fixture
def numba_backend():
    """Run the test on the numba backend, restoring whatever was selected before."""
    previous = kernels.get_backend()
    kernels.set_backend("numba")
    yield
    kernels.set_backend(previous)


@pytest.mark.parametrize("shape", ODD_SHAPES, ids=str)
def test_numba_matches_reference_at_odd_shapes(numba_backend, shape):
    first, second = random_pair(shape)
    out = correlation(first, second)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert_close(out, correlation_reference(first, second))


@pytest.mark.parametrize("shape", ODD_SHAPES + LEVEL_SHAPES[:2], ids=str)
def test_nhwc_inputs_give_the_nchw_result(numba_backend, shape):
    """The same features handed over channels-last give the same cost volume, with both backends
    and the reference; the expectation is computed from the NCHW arrays."""
    first, second = random_pair(shape, seed=4)
    expected = correlation_reference(first, second)
    first_nhwc = np.ascontiguousarray(first.transpose(0, 2, 3, 1))
    second_nhwc = np.ascontiguousarray(second.transpose(0, 2, 3, 1))
    assert_close(correlation(first_nhwc, second_nhwc, layout="NHWC"), expected)
    np.testing.assert_array_equal(
        correlation_reference(first_nhwc, second_nhwc, layout="NHWC"), expected
    )
    kernels.set_backend("numpy")
    np.testing.assert_array_equal(correlation(first_nhwc, second_nhwc, layout="NHWC"), expected)


def test_unknown_layout_is_refused():
    first, second = random_pair((1, 2, 3, 4))
    with pytest.raises(ValueError, match="layout"):
        correlation(first, second, layout="NWHC")


def random_flow(batch, height, width, seed=0, reach=1.3):
    """A sampling grid in [-reach, reach]: beyond +-1 it exercises the border clamp."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-reach, reach, (batch, 2, height, width)).astype(np.float32)


@pytest.mark.parametrize("warped", [False, True], ids=["plain", "warped"])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("rows_per_chunk", [1, 2, 3, 4, 100])
def test_parallel_chunks_match_reference(rows_per_chunk, channels_last, warped):
    """Chunk boundaries (where each chunk refills its ring of rows) and the serial entry point."""
    from kernels import _correlation_numba

    first, second = random_pair((2, 9, 7, 5), seed=6)
    flow = random_flow(2, 7, 5, seed=2) if warped else None
    expected = correlation_reference(first, second, flow=flow)
    if channels_last:
        first, second = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (first, second))
    out = np.full_like(expected, np.nan)
    _correlation_numba.correlation_rows(first, second, out, rows_per_chunk, channels_last, flow)
    assert_close(out, expected)
    out[:] = np.nan
    _correlation_numba.correlation_rows_serial(first, second, out, channels_last, flow)
    assert_close(out, expected)


@pytest.mark.parametrize("shape", ODD_SHAPES + [LEVEL_SHAPES[-1]], ids=str)
def test_warped_correlation_matches_reference_in_both_layouts(numba_backend, shape):
    first, second = random_pair(shape, seed=8)
    flow = random_flow(shape[0], shape[2], shape[3], seed=9)
    expected = correlation_reference(first, second, flow=flow)
    assert_close(correlation(first, second, flow=flow), expected)
    first_nhwc, second_nhwc = (
        np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (first, second)
    )
    assert_close(correlation(first_nhwc, second_nhwc, layout="NHWC", flow=flow), expected)
    np.testing.assert_array_equal(
        correlation_reference(first_nhwc, second_nhwc, layout="NHWC", flow=flow), expected
    )


def identity_grid(batch, height, width):
    """The grid that samples every pixel at its own centre (align_corners=True)."""
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    grid = np.stack([xs, ys])[None].astype(np.float32)
    return np.repeat(grid, batch, axis=0)


@pytest.mark.parametrize("function", [correlation, correlation_reference])
def test_flow_of_whole_pixel_shifts_moves_first_with_border_replication(numba_backend, function):
    """Independent of any twin: a grid one pixel right of the identity reads first[x + 1], and the
    last column, whose position leaves the image, repeats the edge (padding "border")."""
    first, second = random_pair((2, 6, 5, 7), seed=10)
    grid = identity_grid(2, 5, 7)
    np.testing.assert_allclose(
        function(first, second, flow=grid), function(first, second), rtol=0, atol=1e-5
    )
    shifted_grid = grid.copy()
    shifted_grid[:, 0] += np.float32(2 / (7 - 1))
    shifted_first = np.concatenate([first[..., 1:], first[..., -1:]], axis=-1)
    np.testing.assert_allclose(
        function(first, second, flow=shifted_grid),
        function(shifted_first, second),
        rtol=0,
        atol=1e-5,
    )


def test_halfway_position_averages_the_two_neighbours(numba_backend):
    first, second = random_pair((1, 4, 3, 3), seed=11)
    grid = identity_grid(1, 3, 3)
    grid[:, 1] = -0.5  # halfway between rows 0 and 1 everywhere
    row_mean = (first[:, :, 0:1] + first[:, :, 1:2]) / 2
    expected = correlation(np.ascontiguousarray(np.repeat(row_mean, 3, axis=2)), second)
    np.testing.assert_allclose(correlation(first, second, flow=grid), expected, rtol=0, atol=1e-6)


def test_nan_positions_read_the_first_pixel(numba_backend):
    first, second = random_pair((1, 3, 4, 5), seed=12)
    nan_flow = np.full((1, 2, 4, 5), np.nan, dtype=np.float32)
    corner_flow = np.full((1, 2, 4, 5), -1.0, dtype=np.float32)
    for function in (correlation, correlation_reference):
        got = function(first, second, flow=nan_flow)
        assert np.isfinite(got).all()
        np.testing.assert_array_equal(got, function(first, second, flow=corner_flow))


def test_flow_must_match_first(numba_backend):
    first, second = random_pair((1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"flow must have shape \(1, 2, 4, 5\)"):
        correlation(first, second, flow=np.zeros((1, 2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="flow must be 4-D"):
        correlation(first, second, flow=np.zeros((2, 4, 5), np.float32))
    storage = np.zeros(kernels.NUM_SHIFTS * 20, np.float32)
    with pytest.raises(ValueError, match="out must not share memory with flow"):
        correlation(
            first,
            second,
            out=storage.reshape(1, kernels.NUM_SHIFTS, 4, 5),
            flow=storage[:40].reshape(1, 2, 4, 5),
        )


def test_numba_matches_reference_at_finest_level(numba_backend):
    first, second = random_pair(LEVEL_SHAPES[-1], seed=1)
    assert_close(correlation(first, second), correlation_reference(first, second))


@pytest.mark.parametrize("backend", kernels.BACKENDS)
def test_impulse_lands_in_the_channel_of_its_shift(backend):
    """Independent of any implementation: a pixel of ones in ``first`` and a pixel of ones in
    ``second`` (dy, dx) away give exactly 1 in channel (dy + 3) * 7 + (dx + 3) at that pixel."""
    previous = kernels.get_backend()
    kernels.set_backend(backend)
    try:
        y0, x0 = 4, 5
        first = np.zeros((1, 2, 9, 11), dtype=np.float32)
        first[:, :, y0, x0] = 1.0
        for dy in range(-3, 4):
            for dx in range(-3, 4):
                second = np.zeros_like(first)
                second[:, :, y0 + dy, x0 + dx] = 1.0
                expected = np.zeros((1, 49, 9, 11), dtype=np.float32)
                expected[0, (dy + 3) * 7 + (dx + 3), y0, x0] = 1.0
                np.testing.assert_array_equal(
                    correlation(first, second), expected, err_msg=f"dy={dy} dx={dx}"
                )
        # Shifts that leave the image read zeros: a corner pixel sees only the 16 in-image shifts.
        corner = np.zeros((1, 1, 4, 4), dtype=np.float32)
        corner[0, 0, 0, 0] = 2.0
        volume = correlation(corner, np.ones_like(corner))
        in_image = [(dy + 3) * 7 + (dx + 3) for dy in range(4) for dx in range(4)]
        np.testing.assert_array_equal(volume[0, in_image, 0, 0], 2.0)
        assert np.count_nonzero(volume) == len(in_image)
    finally:
        kernels.set_backend(previous)


def test_non_finite_values_propagate_like_the_reference(numba_backend):
    first, second = random_pair((1, 4, 8, 9), seed=5)
    first[0, 1, 0, 0] = np.inf  # corner pixel: meets the zero padding in both directions
    first[0, 2, 7, 4] = np.nan
    second[0, 3, 4, 8] = -np.inf
    expected = correlation_reference(first, second)
    assert np.isnan(expected).any() and np.isinf(expected).any()
    np.testing.assert_allclose(correlation(first, second), expected, rtol=1e-5, atol=1e-6)


def test_kernel_logic_without_jit():
    """The numba functions run as plain Python (NUMBA_DISABLE_JIT=1) and agree with the reference."""
    done = run_python(
        """
        import numpy as np
        import kernels
        from kernels import _correlation_numba as impl

        rng = np.random.default_rng(3)
        for shape in [(1, 3, 5, 9), (2, 17, 3, 4)]:
            first = rng.standard_normal(shape, dtype=np.float32)
            second = rng.standard_normal(shape, dtype=np.float32)
            expected = kernels.correlation_reference(first, second)
            first_nhwc = np.ascontiguousarray(first.transpose(0, 2, 3, 1))
            second_nhwc = np.ascontiguousarray(second.transpose(0, 2, 3, 1))
            flow = rng.uniform(-1.2, 1.2, (shape[0], 2) + shape[2:]).astype(np.float32)
            warped = kernels.correlation_reference(first, second, flow=flow)
            for run, want in (
                (lambda out: impl.correlation_rows(first, second, out, 2, False, None), expected),
                (lambda out: impl.correlation_rows_serial(first, second, out, False, None), expected),
                (lambda out: impl.correlation_rows(first_nhwc, second_nhwc, out, 2, True, None), expected),
                (lambda out: impl.correlation_rows(first, second, out, 2, False, flow), warped),
                (lambda out: impl.correlation_rows_serial(first_nhwc, second_nhwc, out, True, flow), warped),
            ):
                out = np.full_like(want, np.nan)
                run(out)
                print(float(np.abs(out - want).max() / np.abs(want).max()))
        """,
        NUMBA_DISABLE_JIT="1",
    )
    assert done.returncode == 0, done.stderr
    errors = [float(line) for line in done.stdout.split()]
    assert len(errors) == 10 and max(errors) < 1e-5


def test_numpy_backend_switch():
    previous = kernels.get_backend()
    try:
        kernels.set_backend("numpy")
        assert kernels.get_backend() == "numpy"
        first, second = random_pair((1, 5, 6, 7))
        np.testing.assert_array_equal(
            correlation(first, second), correlation_reference(first, second)
        )
        assert kernels.warmup() < 0.1  # nothing to compile
        with pytest.raises(ValueError, match="unknown correlation backend"):
            kernels.set_backend("cuda")
        assert kernels.get_backend() == "numpy"
    finally:
        kernels.set_backend(previous)


def test_env_var_selects_numpy_without_importing_numba():
    done = run_python(
        """
        import sys
        import kernels
        print(kernels.get_backend(), "numba" in sys.modules)
        """,
        TRYON_CORRELATION_BACKEND="numpy",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["numpy", "False"]


def test_kernels_import_only_numpy_and_numba():
    done = run_python(
        """
        import sys
        import numpy as np
        import kernels
        kernels.correlation(np.ones((1, 2, 3, 4)), np.ones((1, 2, 3, 4)))
        print(kernels.get_backend(), *sorted(
            name for name in ("torch", "openvino", "tryon_app", "optimization") if name in sys.modules
        ))
        """,
        TRYON_CORRELATION_BACKEND="",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["numba"]


def test_falls_back_to_numpy_when_numba_cannot_be_imported():
    done = run_python(
        """
        import logging, sys
        import numpy as np
        sys.modules["numba"] = None  # makes `import numba` raise ImportError
        logging.basicConfig(level=logging.WARNING)
        import kernels
        print(kernels.get_backend())
        first = np.ones((1, 2, 3, 4), dtype=np.float32)
        assert np.array_equal(kernels.correlation(first, first), kernels.correlation_reference(first, first))
        try:
            kernels.set_backend("numba")
        except RuntimeError as error:
            print("refused:", error)
        """,
        TRYON_CORRELATION_BACKEND="",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "numpy"
    assert "refused: the numba correlation backend is unavailable" in done.stdout
    assert "falls back to numpy" in done.stderr


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (np.zeros((2, 3, 4), np.float32), np.zeros((2, 3, 4), np.float32), "must be 4-D"),
        (np.zeros((1, 2, 3, 4), np.float32), np.zeros((1, 2, 3, 5), np.float32), "same shape"),
        (np.zeros((1, 2, 3, 4), np.complex64), np.zeros((1, 2, 3, 4), np.float32), "real numbers"),
        (np.full((1, 2, 3, 4), "a"), np.zeros((1, 2, 3, 4), np.float32), "real numbers"),
        (np.zeros((1, 0, 3, 4), np.float32), np.zeros((1, 0, 3, 4), np.float32), "empty dimension"),
    ],
    ids=["3-D", "shape mismatch", "complex", "strings", "no channels"],
)
def test_rejects_bad_inputs(first, second, message):
    for function in (correlation, correlation_reference):
        with pytest.raises(ValueError, match=message):
            function(first, second)


def test_rejects_bad_out_buffers():
    first, second = random_pair((1, 2, 3, 4))
    good_shape = (1, 49, 3, 4)
    bad_buffers = {
        "shape": np.empty((1, 49, 3, 5), np.float32),
        "float64": np.empty(good_shape, np.float64),
        "not C-contiguous": np.empty((1, 49, 4, 3), np.float32).transpose(0, 1, 3, 2),
        "list": np.empty(good_shape, np.float32).tolist(),
    }
    for buffer in bad_buffers.values():
        with pytest.raises(ValueError, match="out must"):
            correlation(first, second, out=buffer)
    read_only = np.empty(good_shape, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        correlation(first, second, out=read_only)
    storage = np.zeros(49 * 3 * 4, np.float32)
    first_inside_out = storage[: 2 * 3 * 4].reshape(1, 2, 3, 4)
    with pytest.raises(ValueError, match="share memory"):
        correlation(first_inside_out, second, out=storage.reshape(good_shape))


def test_out_buffer_is_filled_and_returned(numba_backend):
    first, second = random_pair((1, 8, 6, 10))
    buffer = np.full((1, 49, 6, 10), np.nan, np.float32)
    result = correlation(first, second, out=buffer)
    assert result is buffer
    assert_close(buffer, correlation_reference(first, second))


def test_converts_float64_integer_and_strided_inputs(numba_backend):
    first64, second64 = random_pair((2, 5, 8, 6), seed=2, dtype=np.float64)
    # A channels-last array viewed as NCHW is not C-contiguous; a stepped slice is not either.
    strided = np.ascontiguousarray(first64.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    stepped = np.repeat(second64, 2, axis=3)[..., ::2]
    assert not strided.flags.c_contiguous and not stepped.flags.c_contiguous
    expected = correlation_reference(first64.astype(np.float32), second64.astype(np.float32))
    for first, second in [(first64, second64), (strided, stepped)]:
        out = correlation(first, second)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        assert_close(out, expected)
    integers = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5) % 7
    assert_close(
        correlation(integers, integers),
        correlation_reference(integers.astype(np.float32), integers),
    )


def test_warmup_compiles_both_entry_points_in_both_layouts(numba_backend):
    module = importlib.import_module("kernels.correlation")  # the package exports the function
    seconds = kernels.warmup()
    assert isinstance(seconds, float) and seconds >= 0.0
    # With and without a flow (the layout is a flag, not a type): both compiled or loaded.
    for kernel in (
        module._numba_kernels.correlation_rows,
        module._numba_kernels.correlation_rows_serial,
    ):
        last_arguments = {str(signature[-1]).split("(")[0] for signature in kernel.signatures}
        assert last_arguments == {"none", "array"}, kernel.signatures


@pytest.mark.optimize
@pytest.mark.parametrize("warped", [False, True], ids=["plain", "warped"])
@pytest.mark.parametrize(
    "shape", [(1, 1, 1, 1), (2, 33, 5, 7), (1, 3, 2, 3), LEVEL_SHAPES[1]], ids=str
)
def test_matches_torch_twin(numba_backend, shape, warped):
    """Warped: PF-AFN's convention, grid_sample bilinear, border, align_corners=True, then the
    correlation."""
    torch = pytest.importorskip("torch")
    from optimization.archs.afwm import warp
    from optimization.archs.correlation import correlation as torch_correlation

    first, second = random_pair(shape, seed=4)
    flow = random_flow(shape[0], shape[2], shape[3], seed=14) if warped else None
    with torch.no_grad():
        first_t = torch.from_numpy(first)
        if warped:
            first_t = warp(first_t, torch.from_numpy(flow))
        expected = torch_correlation(first_t, torch.from_numpy(second)).numpy()
    assert_close(correlation(first, second, flow=flow), expected)
    assert_close(correlation_reference(first, second, flow=flow), expected)
