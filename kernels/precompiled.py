"""Kernels compiled when a package is built, so that a fresh install does not compile on first use.

numba compiles the correlation kernels for the CPU it runs on (about half a minute on two cores)
and caches the machine code in ``NUMBA_CACHE_DIR``, keyed by the CPU's name and features. A cache
made on the build machine is therefore useless on another CPU, unless both compile for the same
named baseline instead of for "this exact CPU". So a package build compiles the kernels once per
x86-64 micro-architecture level (``build_seed``), and the packaged app, before numba starts, picks
the best level this CPU runs and copies that level's cache into the user's cache folder
(``use_seed``). A CPU that runs no shipped level compiles for itself, as before.

Measured on a Zen 4 (AVX-512) core, a whole pyramid of correlations: host-tuned 4.9 ms, x86-64-v4
4.9 ms, x86-64-v3 (AVX2) 6.5 ms; hence one seed per level rather than one for all.

Everything here must run before numba is imported: numba reads its target from the environment
once, at import.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

# x86-64 micro-architecture levels, best first, with the CPU features each one needs (the LLVM
# names of the psABI's level definitions; v4 includes v3).
_V3 = ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave")
_V3 += ("cx16", "popcnt", "sahf", "sse3", "sse4.1", "sse4.2", "ssse3")
LEVELS: dict[str, tuple[str, ...]] = {
    "x86-64-v4": (*_V3, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"),
    "x86-64-v3": _V3,
}
CACHE_SUFFIXES = (".nbi", ".nbc")  # numba's cache index and data files


def runnable_levels() -> list[str]:
    """The levels of `LEVELS` this CPU runs, best first (none off x86-64)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    import llvmlite.binding as llvm

    features = {name for name, present in llvm.get_host_cpu_features().items() if present}
    return [level for level, needed in LEVELS.items() if features.issuperset(needed)]


def target_level(level: str) -> None:
    """Make numba compile for `level` instead of this exact CPU (before numba is imported)."""
    if "numba" in sys.modules:
        raise RuntimeError("numba is already imported: its compile target can no longer change")
    os.environ["NUMBA_CPU_NAME"] = level
    # Empty: exactly the level's features, not this CPU's (numba's default when only a name is set).
    os.environ["NUMBA_CPU_FEATURES"] = ""


def use_seed(seed_root: Path) -> str | None:
    """Compile for the best level this CPU runs that `seed_root` holds, and install its cache.

    `seed_root/<level>/` holds the cache files `build_seed` copied for one level. They are
    copied into the folder numba will look in (under ``NUMBA_CACHE_DIR``, which must be set),
    unless already there. Does nothing when the user chose numba's target themselves
    (``NUMBA_CPU_NAME``), or when no level fits.

    Returns:
        The level now targeted, or None.
    """
    if os.environ.get("NUMBA_CPU_NAME") or not os.environ.get("NUMBA_CACHE_DIR"):
        return None
    level = next((lv for lv in runnable_levels() if (seed_root / lv).is_dir()), None)
    if level is None:
        return None
    target_level(level)
    destination = kernel_cache_dir()
    destination.mkdir(parents=True, exist_ok=True)
    for source in sorted((seed_root / level).iterdir()):
        target = destination / source.name
        if source.suffix in CACHE_SUFFIXES and not target.exists():
            # Whole files only: numba must never find half an index.
            partial = target.with_name(f".{target.name}.partial")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
    return level


def kernel_cache_dir() -> Path:
    """Where numba caches this package's kernels under ``NUMBA_CACHE_DIR`` (numba's own rule)."""
    from numba.core.caching import UserProvidedCacheLocator

    source = Path(__file__).with_name("_correlation_numba.py")
    subpath = UserProvidedCacheLocator.get_suitable_cache_subpath(str(source))
    return Path(os.environ["NUMBA_CACHE_DIR"]) / subpath


def build_seed(cache_dir: Path, seed_root: Path, level: str) -> int:
    """Copy the kernel cache files a warm-up left in `cache_dir` into `seed_root/<level>/`.

    Returns:
        How many files were copied (0 means the warm-up cached nothing: a broken build).
    """
    destination = seed_root / level
    destination.mkdir(parents=True, exist_ok=True)
    copied = 0
    for source in sorted(cache_dir.rglob("*")):
        if source.suffix in CACHE_SUFFIXES and source.is_file():
            shutil.copyfile(source, destination / source.name)
            copied += 1
    return copied
