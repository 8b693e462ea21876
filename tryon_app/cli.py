"""`tryon`: run try-ons from the command line; with no arguments, open the desktop app."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import threading
from pathlib import Path

log = logging.getLogger("tryon")

KERNEL_NOTICE_AFTER_S = 1.0
"""A cached kernel usually loads well within this; past it, say what the wait is."""


@contextlib.contextmanager
def _notice_if_slow(seconds: float, message: str):
    """Print `message` on stderr if the block is still running after `seconds`."""
    timer = threading.Timer(
        seconds, lambda: print(f"tryon: {message}", file=sys.stderr, flush=True)
    )
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _prepare_kernels() -> float:
    """Compile or load the correlation kernel, saying so when it is a compilation.

    Returns:
        Seconds spent.
    """
    import kernels

    with _notice_if_slow(
        KERNEL_NOTICE_AFTER_S,
        "preparing the correlation kernel (a first run compiles it for this CPU: about half a "
        "minute on 2 cores)...",
    ):
        return kernels.warmup()


def _runtime_options(args: argparse.Namespace):
    from tryon_app.core.pipeline import RuntimeOptions

    precision = None if args.precision == "auto" else args.precision
    return RuntimeOptions(
        device=args.device, precision=precision, threads=args.threads, layout=args.layout
    )


def _cmd_run(args: argparse.Namespace) -> None:
    from tryon_app.core.engine import TryOnEngine
    from tryon_app.core.images import check_outputs, load_image, load_mask, save_image

    check_outputs(
        {"result": args.out, "warped garment": args.warped},
        {"person photo": args.person, "garment photo": args.cloth, "garment mask": args.mask},
    )
    if args.debug_dir:
        _check_debug_dir(Path(args.debug_dir))
    person = load_image(args.person, what="person photo")
    cloth = load_image(args.cloth, what="garment photo")
    mask = load_mask(args.mask) if args.mask else None
    if args.layout != "fused":
        _prepare_kernels()
    engine = TryOnEngine(args.model, _runtime_options(args))
    result = engine.try_on(person, cloth, mask, framing=args.framing, resolution=args.resolution)
    save_image(args.out, result.image)
    if args.warped:
        save_image(args.warped, result.warped_cloth)
    if args.debug_dir:
        _write_debug_images(Path(args.debug_dir), person, result)
    for note in result.notes:
        print(f"tryon run: {note}", file=sys.stderr)
    stages = ", ".join(f"{name} {ms:.1f} ms" for name, ms in result.timings_ms.items())
    print(f"wrote {args.out} ({stages})")


def _live_session(args: argparse.Namespace, smooth: bool):
    """The engine and a `LiveTryOn` of the garment, ready for frames."""
    from tryon_app.core.engine import TryOnEngine
    from tryon_app.core.images import load_image, load_mask
    from tryon_app.core.live import LiveTryOn

    cloth = load_image(args.cloth, what="garment photo")
    mask = load_mask(args.mask) if args.mask else None
    if args.layout != "fused":
        _prepare_kernels()
    engine = TryOnEngine(args.model, _runtime_options(args))
    framing = None if args.framing == "auto" else args.framing
    session = LiveTryOn(engine, smooth=smooth, framing=framing)
    session.set_garment(cloth, mask)
    return session


def _cmd_video(args: argparse.Namespace) -> None:
    from tryon_app.core.batch import _ProgressBar
    from tryon_app.core.errors import OutputError
    from tryon_app.core.live import VideoSink, open_video

    if Path(args.out).resolve() == Path(args.input).resolve():
        raise OutputError(f"{args.out}: the result would overwrite the input video")
    with _terminate_as_interrupt(), open_video(args.input) as source:
        height, width = source.size
        with VideoSink(args.out, source.fps or 30.0, (height, width)) as sink:
            session = _live_session(args, args.smooth)
            bar = _ProgressBar(source.frame_count or 0, bool(source.frame_count) and not args.quiet)
            try:
                for frame in source:
                    sink.write(session.process(frame).image)
                    bar.update(min(sink.frames, bar.total))
            finally:
                bar.close()
    if source.frame_count and sink.frames < source.frame_count:
        print(
            f"tryon video: {args.input} ended after {sink.frames} of its {source.frame_count} "
            "frames (the rest could not be decoded)",
            file=sys.stderr,
        )
    print(f"wrote {args.out} ({sink.frames} frames, {width}x{height})")


def _no_display_reason() -> str | None:
    """Why no window can open here (no display server), or None when one may."""
    import os

    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def _cmd_live(args: argparse.Namespace) -> None:
    from tryon_app.core.errors import TryOnError
    from tryon_app.core.live import VideoSink, open_camera, open_video

    no_display = _no_display_reason()
    if no_display and not args.record:
        raise TryOnError(f"{no_display}: add --record OUT.mp4 to record the live try-on instead")
    if not no_display:
        try:
            from tryon_app.gui.live import run_live_window
        except ImportError as error:
            raise TryOnError(f"the live window needs PySide6 ({error})") from None
    with _terminate_as_interrupt():
        source = open_video(args.video) if args.video else open_camera(args.camera)
        with source:
            height, width = source.size
            sink = (
                VideoSink(args.record, source.fps or 30.0, (height, width)) if args.record else None
            )
            try:
                session = _live_session(args, args.smooth)
                if no_display:
                    stats = _record_headless(source, session, sink, args.seconds)
                else:
                    stats = run_live_window(source, session, sink, seconds=args.seconds)
            except BaseException:
                if sink is not None:
                    sink.discard()
                raise
            if sink is not None:
                sink.close()
    recorded = f"; recorded {args.record}" if args.record else ""
    print(
        f"tryon live: {stats.processed} try-ons, {stats.fps:.1f} per second, latency "
        f"{stats.latency_ms:.0f} ms, {stats.dropped} frames dropped{recorded}"
    )


def _record_headless(source, session, sink, seconds: float | None):
    """`tryon live --record` without a window: until the source ends, --seconds or Ctrl+C."""
    from tryon_app.core.live import LiveRunner, Recorder

    recorder = Recorder(sink)
    errors: list[BaseException] = []
    runner = LiveRunner(
        source, lambda frame: session.process(frame.rgb), recorder.add, on_error=errors.append
    )
    runner.start()
    try:
        runner.join(seconds)
    finally:
        runner.stop()
        runner.join()
    if errors:
        raise errors[0]
    return runner.stats()


def _framing_argument(text: str):
    """--framing: auto, letterbox, crop, or a box X,Y,W,H in pixels."""
    from tryon_app.core.framing import FRAMINGS, Box

    if text in FRAMINGS:
        return text
    try:
        return Box.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error}; or one of {', '.join(FRAMINGS)}") from None


def _check_debug_dir(folder: Path) -> None:
    """Create the --debug-dir folder now, so that a bad one fails before any work."""
    from tryon_app.core.errors import TryOnError
    from tryon_app.core.images import check_writable

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TryOnError(f"{folder}: cannot create the debug folder ({error.strerror})") from None
    check_writable(folder / "framing.png")


def _write_debug_images(folder: Path, person, result) -> None:
    """The framing box on the photo, the full-resolution warped garment, the changed region."""
    import cv2

    from tryon_app.core.images import save_image

    box = result.framing.box
    framed = person.copy()
    thickness = max(2, round(max(person.shape[:2]) / 400))
    cv2.rectangle(framed, (box.x, box.y), (box.right - 1, box.bottom - 1), (255, 40, 40), thickness)
    save_image(folder / "framing.png", framed)
    (folder / "framing.txt").write_text(f"{box}\n{result.framing.how}\n", encoding="utf-8")
    save_image(folder / "model_result.png", result.canvas)
    if result.composition is not None:
        save_image(folder / "warped_garment.png", result.composition.warped_garment_image())
        save_image(folder / "changed.png", result.composition.changed_mask())


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM ends the block as Ctrl+C does: a KeyboardInterrupt, so that it cleans up.

    Without this, `kill` (a service manager, a closed terminal session) ends the process where it
    stands, halfway through writing files.
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_batch(args: argparse.Namespace) -> None:
    from tryon_app.core.batch import run_batch

    with _terminate_as_interrupt():
        if args.layout != "fused":
            _prepare_kernels()
        count, seconds = run_batch(
            args.dataroot,
            args.pairs,
            args.out,
            model_dir=args.model,
            options=_runtime_options(args),
            requests=args.requests,
            progress=not args.quiet,
            resolution=args.resolution,
        )
    print(
        f"wrote {count} try-ons to {args.out} in {seconds:.1f} s ({count / max(seconds, 1e-9):.1f} per second)"
    )


def _cmd_bench(args: argparse.Namespace) -> None:
    from tryon_app.core.bench import benchmark_many, format_comparison, format_report

    if args.json:
        from tryon_app.core.images import check_writable

        check_writable(args.json)
    if args.layout != "fused":
        _prepare_kernels()
    reports = benchmark_many(
        [args.model, *args.compare],
        _runtime_options(args),
        runs=args.runs,
        warmup=args.warmup,
        photo_size=args.photo_size,
    )
    print("\n\n".join(format_report(report) for report in reports))
    if args.compare:
        print("\n" + format_comparison(reports))
    if args.json:
        document = reports[0] if not args.compare else {"reports": reports}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _cmd_models(args: argparse.Namespace) -> None:
    from tryon_app.core.artifact import load_artifact, model_folders
    from tryon_app.core.errors import TryOnError
    from tryon_app.core.paths import model_search_dirs

    broken = found = 0
    for folder, skipped in model_folders(model_search_dirs()):
        if skipped is not None:
            print(f"skipped {folder}: {skipped}")
            continue
        found += 1
        try:
            artifact = load_artifact(folder)
        except TryOnError as error:
            broken += 1
            print(f"BROKEN  {error}")
            continue
        size_mb = artifact.size_bytes() / 1e6
        layouts = "+".join(sorted(artifact.layouts))
        print(
            f"ok      {artifact.name:<24} {artifact.precision:<5} {size_mb:6.1f} MB  {layouts:<12} {folder}"
        )
    if not found:
        print("no models found in " + ", ".join(str(p) for p in model_search_dirs()))
    if broken:
        raise SystemExit(1)


def _cmd_warmup(args: argparse.Namespace) -> None:
    import kernels

    seconds = _prepare_kernels()
    how = "compiled for this CPU" if kernels.compiled_in_this_process() else "loaded from the cache"
    print(f"correlation kernel ready in {seconds:.1f} s ({how}, {kernels.get_backend()} backend)")


def _photo_size(text: str) -> tuple[int, int]:
    """WxH (width first, as photos are described) -> (height, width)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT, e.g. 3024x4032, not {text!r}"
        ) from None
    if not (64 <= width <= 20000 and 64 <= height <= 20000):
        raise argparse.ArgumentTypeError(f"{text}: each side must be 64 to 20000 pixels")
    return height, width


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="artifact folder (default: the shipped default model)"
    )
    parser.add_argument(
        "--device", default="CPU", help="OpenVINO device: CPU, GPU or AUTO (default CPU)"
    )
    parser.add_argument(
        "--precision",
        choices=("f32", "bf16", "f16", "auto"),
        default="f32",
        help="inference precision hint; auto = the device's default (default f32)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU inference threads (default: all)"
    )
    parser.add_argument(
        "--layout",
        choices=("auto", "split", "fused"),
        default="auto",
        help="split = OpenVINO + numba correlation (fastest on CPU); fused = one graph (default auto)",
    )


def _add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """The garment and how frames are steadied: `tryon video` and `tryon live` alike."""
    parser.add_argument("--cloth", required=True, help="garment product photo")
    parser.add_argument("--mask", default=None, help="garment mask (computed when omitted)")
    parser.add_argument(
        "--smooth",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="steady the garment over frames: its flow and pixels are averaged where they barely "
        "change (camera noise) and follow where the person moves (default on)",
    )
    parser.add_argument(
        "--framing",
        type=_framing_argument,
        default="auto",
        metavar="auto|letterbox|crop|X,Y,W,H",
        help="auto finds the person every few frames and moves the box only when they have "
        "moved (default); or a fixed box as for `tryon run`",
    )


def build_parser() -> argparse.ArgumentParser:
    from tryon_app import __version__

    parser = argparse.ArgumentParser(
        prog="tryon",
        description="Offline virtual try-on on the CPU. With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"tryon {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="try one garment on one person photo",
        description="Try a garment on a person photo of any size; the result keeps the photo's framing.",
    )
    run.add_argument(
        "--person", required=True, help="person photo (any size; 192x256 is the model's own)"
    )
    run.add_argument("--cloth", required=True, help="garment product photo")
    run.add_argument(
        "--mask", default=None, help="garment mask (white = garment); computed when omitted"
    )
    run.add_argument("--out", required=True, help="output image (.png or .jpg)")
    run.add_argument("--warped", default=None, help="also save the warped garment here")
    run.add_argument(
        "--framing",
        type=_framing_argument,
        default="auto",
        metavar="auto|letterbox|crop|X,Y,W,H",
        help="the part of the person photo the model sees: auto finds the person and frames "
        "them as the model was trained (head near the top, down to mid-thigh; letterbox when "
        "no person is found), letterbox the whole photo, crop its centred 3:4 part, or a box "
        "in pixels (default auto)",
    )
    run.add_argument(
        "--resolution",
        choices=("full", "model"),
        default="full",
        help="full: the photo's own size, only the garment's region from the model; model: the "
        "model's 192x256 result scaled up (default full)",
    )
    run.add_argument(
        "--debug-dir",
        default=None,
        help="also write the framing box, the full-resolution warped garment and the changed "
        "region here",
    )
    _add_runtime_arguments(run)
    run.set_defaults(handler=_cmd_run)

    batch = commands.add_parser(
        "batch",
        help="try-on every pair of a VITON-layout folder",
        description="Runs every `person cloth` pair of PAIRS from DATAROOT/test_img, test_clothes "
        "and test_edge, writing DIR/<person>__<cloth>.png. Throughput mode: OpenVINO's THROUGHPUT "
        "hint, with several try-ons in flight at once.",
    )
    batch.add_argument(
        "--dataroot", required=True, help="folder with test_img/, test_clothes/, test_edge/"
    )
    batch.add_argument(
        "--pairs", required=True, help="pairs file: one `person.jpg cloth.jpg` per line"
    )
    batch.add_argument("--out", required=True, help="output folder (created)")
    batch.add_argument(
        "--requests",
        type=_positive_int,
        default=None,
        help="try-ons in flight at once (default: as many as OpenVINO asks for)",
    )
    batch.add_argument(
        "--resolution",
        choices=("model", "full"),
        default="model",
        help="model: the model's try-ons as they are (default); full: composed into each person "
        "photo as tryon run does, only the changed region from the model",
    )
    _add_runtime_arguments(batch)
    batch.set_defaults(handler=_cmd_batch)

    bench = commands.add_parser(
        "bench",
        help="per-stage latency and try-ons per second",
        description="Times the model on this machine: per-stage p50/p90 latency and try-ons per second.",
    )
    bench.add_argument("--runs", type=int, default=30, help="timed runs (default 30)")
    bench.add_argument(
        "--warmup", type=int, default=3, help="untimed runs first, and before each turn (default 3)"
    )
    bench.add_argument("--json", default=None, help="also write the report as JSON here")
    bench.add_argument(
        "--photo-size",
        type=_photo_size,
        default=None,
        metavar="WxH",
        help="time whole try-ons of a synthetic person photo this large (e.g. 3024x4032, a "
        "12-megapixel phone photo): framing and full-resolution composition become stages of "
        "their own, and the report adds the peak memory",
    )
    bench.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="DIR",
        help="another artifact to time in the same run: the models take turns of 10 timed "
        "calls, each turn after --warmup untimed ones (right after another model a model runs "
        "slower until its data is back in the caches); prints the speed-up of every model "
        "against --model (repeatable)",
    )
    _add_runtime_arguments(bench)
    bench.set_defaults(handler=_cmd_bench)

    video = commands.add_parser(
        "video",
        help="try a garment on every frame of a video",
        description="Try a garment on every frame of a video file (no frame is skipped; audio "
        "is not copied). The garment is prepared once; the person is framed as `tryon run` "
        "frames a photo, steadied over frames; --smooth steadies the garment. OUT appears only "
        "once complete: a failed or interrupted conversion leaves no partial file.",
    )
    video.add_argument("--in", dest="input", required=True, help="input video (.mp4, .avi, ...)")
    video.add_argument(
        "--out", required=True, help="output video: .mp4, .m4v, .mov (MPEG-4) or .avi, .mkv (MJPEG)"
    )
    _add_live_arguments(video)
    _add_runtime_arguments(video)
    video.set_defaults(handler=_cmd_video)

    live = commands.add_parser(
        "live",
        help="live try-on from a camera in a window of its own",
        description="Shows the try-on of a garment on a camera's picture, live, in a window of "
        "its own (Esc or Q quits). The newest frame wins: frames that arrive while "
        "a try-on runs are dropped, never queued, so the picture stays one try-on behind the "
        "camera. The window's title bar shows try-ons per second and latency. Without a display "
        "(no DISPLAY), --record OUT.mp4 records the try-on instead of showing it.",
    )
    where = live.add_mutually_exclusive_group()
    where.add_argument(
        "--camera", type=int, default=0, metavar="N", help="camera index (default 0, the first)"
    )
    where.add_argument("--video", default=None, help="a video file instead, played in real time")
    live.add_argument(
        "--record",
        default=None,
        metavar="OUT.mp4",
        help="also record what is shown (each try-on held until the next, in real time)",
    )
    live.add_argument(
        "--seconds", type=float, default=None, help="stop after this long (default: Esc)"
    )
    _add_live_arguments(live)
    _add_runtime_arguments(live)
    live.set_defaults(handler=_cmd_live)

    models = commands.add_parser("models", help="list and validate the installed model artifacts")
    models.set_defaults(handler=_cmd_models)

    warmup = commands.add_parser(
        "warmup",
        help="compile the correlation kernel now",
        description="Compiles the numba correlation kernel for this CPU and caches it, as the "
        "first try-on otherwise does (the packaged app ships it precompiled for common CPUs).",
    )
    warmup.set_defaults(handler=_cmd_warmup)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if args.command is None:
        return _open_gui(parser)
    from tryon_app.core.errors import TryOnError

    try:
        args.handler(args)
    except TryOnError as error:
        print(f"tryon {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tryon {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


def _open_gui(parser: argparse.ArgumentParser) -> int:
    try:
        from tryon_app.gui.app import main as gui_main
    except ImportError:
        parser.print_help()
        return 0
    return gui_main()


if __name__ == "__main__":
    sys.exit(main())
