"""The 7x7 correlation on this CPU: numba kernel, numpy reference, torch and OpenVINO side by side.

Times, at PF-AFN's finest level (1, 256, 128, 96) float32: ``kernels.correlation`` (numba) on NHWC
inputs as the app calls it on OpenVINO's channels-last pyramids, and on NCHW ones (layout change
inside the kernel), the numpy reference, the
torch pad + shifted-products twin, and OpenVINO running that twin converted with
``ov.convert_model`` (f32, same thread count). Then numba against torch at all five level shapes,
and the warped correlation PF-AFN computes at every level but the coarsest (the clothes feature
sampled at the previous flow first): numba sampling as it reads, against torch ``grid_sample``
then the twin. Prints the median and p90 in ms, the speed-up over torch, and the largest
difference from torch.

    python benchmarks/correlation.py [--repeats 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

FINEST = (1, 256, 128, 96)
TORCH = "torch pad + shifted products"
OPENVINO = "OpenVINO, converted torch graph"
LEVEL_SHAPES = [(1, 256, 8 * 2**i, 6 * 2**i) for i in range(5)]  # coarsest (8x6) to finest


def time_interleaved(
    runs: dict[str, tuple[Callable[[], object], int]], block: int = 5, budget_s: float = 15.0
) -> dict[str, np.ndarray]:
    """Per-call wall times in ms, taken in rounds of ``block`` calls per implementation.

    Rounds put every implementation under the same drifting background load (a shared 2-core
    machine). Within a round each implementation runs its block alone, after one untimed call,
    because thread pools keep spinning for a while after a parallel region and would slow down
    whichever implementation ran next. ``runs`` maps a name to (callable, calls wanted); after
    ``budget_s`` rounds stop once every implementation has at least 3 calls.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    deadline = time.perf_counter() + budget_s
    while True:
        pending = [name for name, (_, wanted) in runs.items() if len(samples[name]) < wanted]
        if not pending:
            break
        if time.perf_counter() > deadline and all(len(samples[name]) >= 3 for name in pending):
            break
        for name in pending:
            run, wanted = runs[name]
            run()
            for _ in range(min(block, wanted - len(samples[name]))):
                start = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: np.asarray(values) for name, values in samples.items()}


def make_inputs(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32), rng.standard_normal(
        shape, dtype=np.float32
    )


def openvino_runner(
    first: np.ndarray, second: np.ndarray, threads: int
) -> Callable[[], np.ndarray]:
    import openvino as ov
    import torch

    from optimization.archs.correlation import Correlation

    example = (torch.from_numpy(first), torch.from_numpy(second))
    model = ov.convert_model(Correlation().eval(), example_input=example)
    compiled = ov.Core().compile_model(
        model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}
    )
    request = compiled.create_infer_request()

    def run() -> np.ndarray:
        request.infer([first, second])
        return request.get_output_tensor(0).data

    return run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=20, help="timed calls per row (numpy: at most 5)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads for numba, torch and OpenVINO"
    )
    args = parser.parse_args()
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")

    import numba
    import torch

    import kernels
    from optimization.archs.correlation import correlation as torch_correlation

    kernels.set_backend("numba")
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(args.threads)
    compile_s = kernels.warmup()
    print(
        f"numba {numba.__version__}: threading layer {numba.threading_layer()}, "
        f"{numba.get_num_threads()} threads, kernel ready in {compile_s:.2f} s | "
        f"torch {torch.__version__}: {torch.get_num_threads()} threads"
    )

    first, second = make_inputs(FINEST)
    first_t, second_t = torch.from_numpy(first), torch.from_numpy(second)
    out = np.empty((FINEST[0], kernels.NUM_SHIFTS, *FINEST[2:]), dtype=np.float32)

    def run_torch() -> np.ndarray:
        with torch.no_grad():
            return torch_correlation(first_t, second_t).numpy()

    expected = run_torch()
    # The app's path: OpenVINO hands the pyramids over channels-last.
    first_nhwc, second_nhwc = (
        np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (first, second)
    )
    candidates = {
        "numba kernel, NHWC in, out= buffer": lambda: kernels.correlation(
            first_nhwc, second_nhwc, out=out, layout="NHWC"
        ),
        "numba kernel, NCHW in, out= buffer": lambda: kernels.correlation(first, second, out=out),
        "numba kernel, NCHW in, allocating": lambda: kernels.correlation(first, second),
        "numpy reference": lambda: kernels.correlation_reference(first, second),
        TORCH: run_torch,
    }
    wanted = {
        name: min(args.repeats, 5) if "numpy" in name else args.repeats for name in candidates
    }
    samples = time_interleaved({name: (run, wanted[name]) for name, run in candidates.items()})
    differences = {name: float(np.abs(run() - expected).max()) for name, run in candidates.items()}

    level_medians = []
    for shape in LEVEL_SHAPES:
        level_first, level_second = make_inputs(shape)
        level_first_t, level_second_t = (
            torch.from_numpy(level_first),
            torch.from_numpy(level_second),
        )

        def run_level_torch(a=level_first_t, b=level_second_t):
            with torch.no_grad():
                return torch_correlation(a, b)

        def run_level_numba(a=level_first, b=level_second):
            return kernels.correlation(a, b)

        level = time_interleaved(
            {"numba": (run_level_numba, args.repeats), "torch": (run_level_torch, args.repeats)},
            budget_s=3.0,
        )
        level_medians.append(
            (shape, float(np.median(level["numba"])), float(np.median(level["torch"])))
        )

    # The warped correlation: a smooth flow around the identity grid, as PF-AFN's levels see.
    from optimization.archs.afwm import warp

    rng = np.random.default_rng(1)
    height, width = FINEST[2:]
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    flow = np.stack([xs, ys])[None] + rng.uniform(-0.05, 0.05, (1, 2, height, width))
    flow = flow.astype(np.float32)
    flow_t = torch.from_numpy(flow)

    def run_torch_warped() -> np.ndarray:
        with torch.no_grad():
            return torch_correlation(warp(first_t, flow_t), second_t).numpy()

    warped_expected = run_torch_warped()
    warped_candidates = {
        "numba, NHWC, samples as it reads": lambda: kernels.correlation(
            first_nhwc, second_nhwc, out=out, layout="NHWC", flow=flow
        ),
        "torch grid_sample + pad+shift": run_torch_warped,
    }
    warped = time_interleaved(
        {name: (run, args.repeats) for name, run in warped_candidates.items()}
    )
    warped_differences = {
        name: float(np.abs(run() - warped_expected).max())
        for name, run in warped_candidates.items()
    }

    # OpenVINO goes last: in this process, convert_model and compile_model leave worker threads
    # busy for a while, which doubled torch's time when they were interleaved (measured).
    run_openvino = openvino_runner(first, second, args.threads)
    samples[OPENVINO] = time_interleaved({OPENVINO: (run_openvino, args.repeats)}, budget_s=8.0)[
        OPENVINO
    ]
    differences[OPENVINO] = float(np.abs(run_openvino() - expected).max())

    torch_median = np.median(samples[TORCH])
    print(f"\ncorrelation at {FINEST} float32 (ms; rounds of 5 calls each, OpenVINO timed last)")
    print(
        f"{'implementation':<36} {'calls':>5} {'median':>8} {'p90':>8} {'vs torch':>9} {'max |diff|':>11}"
    )
    for name, times in samples.items():
        median = np.median(times)
        print(
            f"{name:<36} {len(times):>5} {median:>8.2f} {np.percentile(times, 90):>8.2f} "
            f"{torch_median / median:>8.1f}x {differences[name]:>11.1e}"
        )

    print("\nPF-AFN level shapes, numba vs torch (median ms)")
    print(f"{'shape':<20} {'numba':>8} {'torch':>8} {'speed-up':>9}")
    for shape, numba_ms, torch_ms in level_medians:
        print(f"{str(shape):<20} {numba_ms:>8.3f} {torch_ms:>8.3f} {torch_ms / numba_ms:>8.1f}x")
    numba_total = sum(numba_ms for _, numba_ms, _ in level_medians)
    torch_total = sum(torch_ms for _, _, torch_ms in level_medians)
    print(
        f"{'all five levels':<20} {numba_total:>8.3f} {torch_total:>8.3f} {torch_total / numba_total:>8.1f}x"
    )

    torch_median = np.median(warped["torch grid_sample + pad+shift"])
    print(f"\nwarped by a flow at {FINEST} (ms)")
    print(f"{'implementation':<36} {'median':>8} {'p90':>8} {'vs torch':>9} {'max |diff|':>11}")
    for name, times in warped.items():
        median = np.median(times)
        print(
            f"{name:<36} {median:>8.2f} {np.percentile(times, 90):>8.2f} "
            f"{torch_median / median:>8.1f}x {warped_differences[name]:>11.1e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
