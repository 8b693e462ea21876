"""Checkpoints: channel widths plus state dict (never pickled modules), loaded with weights_only.

Our format is a dict ``{"format", "version", "kind", "widths", "state_dict", ...extra}``; a plain
state dict is taken as an official PF-AFN checkpoint (official widths).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from optimization.archs.pfafn import (
    AFWM,
    GenWidths,
    ResUnetGenerator,
    WarpWidths,
    load_official,
    load_state_dict_checked,
)

FORMAT = "openvino-tryon/checkpoint"
VERSION = 1


def save_checkpoint(
    path: str | Path, model: torch.nn.Module, widths: WarpWidths | GenWidths, **extra: Any
) -> None:
    """Save `model`'s widths and weights; `extra` must be plain data (numbers, strings, dicts)."""
    kind = "warp" if isinstance(widths, WarpWidths) else "gen"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "widths": widths.to_dict(),
        "state_dict": model.state_dict(),
        **extra,
    }
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for damaged or foreign files
        raise ValueError(f"{path}: not a readable torch checkpoint ({error})") from None


def is_ours(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("format") == FORMAT


def load_models(warp_path: str | Path, gen_path: str | Path) -> tuple[AFWM, ResUnetGenerator]:
    """Both networks in eval mode, from our checkpoints or the official PF-AFN files."""
    warp_payload, gen_payload = read_checkpoint(warp_path), read_checkpoint(gen_path)
    if not is_ours(warp_payload) and not is_ours(gen_payload):
        return load_official(warp_path, gen_path)
    warp = _build_ours(warp_payload, warp_path, "warp") if is_ours(warp_payload) else None
    gen = _build_ours(gen_payload, gen_path, "gen") if is_ours(gen_payload) else None
    if warp is None or gen is None:
        raise ValueError(
            f"{warp_path if warp is None else gen_path}: mixing an official checkpoint with one of "
            "ours is not supported; convert both from the same source"
        )
    return warp, gen


def load_network(path: str | Path, kind: str) -> torch.nn.Module:
    """One network (`kind` "warp" or "gen") in eval mode from one of our checkpoints."""
    payload = read_checkpoint(path)
    if not is_ours(payload):
        raise ValueError(f"{path}: not a checkpoint written by this project")
    return _build_ours(payload, path, kind)


def _build_ours(payload: dict[str, Any], path: str | Path, expected_kind: str) -> torch.nn.Module:
    if payload.get("kind") != expected_kind:
        raise ValueError(
            f"{path}: holds a {payload.get('kind')!r} network, expected {expected_kind!r}"
        )
    if expected_kind == "warp":
        model = AFWM(WarpWidths.from_dict(payload["widths"]))
    else:
        model = ResUnetGenerator(GenWidths.from_dict(payload["widths"]))
    load_state_dict_checked(model, payload["state_dict"], str(path))
    return model.eval()


def widths_of(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["widths"] if is_ours(payload) else {}
