"""Checkpoints: channel widths plus state dict (never pickled modules), loaded with weights_only.

Our format is a dict ``{"format", "version", "kind", "widths", "state_dict", ...extra}``; a plain
state dict is taken as an official PF-AFN checkpoint (official widths), loaded strictly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optimization.archs.afwm import AFWM
from optimization.archs.generator import ResUnetGenerator
from optimization.archs.tryon import build_models
from optimization.archs.widths import GenWidths, WarpWidths

log = logging.getLogger(__name__)

FORMAT = "openvino-tryon/checkpoint"
VERSION = 1
# Keys a checkpoint may carry that are not part of the inference model: the released training
# code registers a smoothness filter as a parameter of AFlowNet on every forward.
IGNORED_CHECKPOINT_KEYS = ("aflow_net.weight",)
_KEYS_SHOWN = 10


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
    save_atomically(payload, path)


def save_atomically(payload: Any, path: str | Path) -> None:
    """`torch.save` to a temporary file beside `path`, then rename it: a crash leaves no half file."""
    path = Path(path)
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Whatever a torch file holds, loaded weights-only.

    Raises:
        FileNotFoundError: no such file.
        ValueError: torch cannot read it (damaged, or not a torch file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
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


# ---------------------------------------------------------------------------------------------
# Official PF-AFN checkpoints


def _format_keys(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_KEYS_SHOWN])
    more = f", ... ({len(keys) - _KEYS_SHOWN} more)" if len(keys) > _KEYS_SHOWN else ""
    return f"{len(keys)} [{shown}{more}]"


def load_state_dict_checked(model: nn.Module, state: Mapping[str, Any], source_name: str) -> None:
    """Strictly load `state` into `model`, or raise a ValueError that says what differs.

    Args:
        model: the network to fill.
        state: a state dict with exactly the model's keys and shapes.
        source_name: where `state` came from (a file path), named in the error message.

    Raises:
        ValueError: on missing or unexpected keys or on shape mismatches.
    """
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and tuple(getattr(state[key], "shape", ())) != tuple(value.shape)
    ]
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append(f"missing keys {_format_keys(missing)}")
        if unexpected:
            problems.append(f"unexpected keys {_format_keys(unexpected)}")
        if mismatched:
            problems.append(f"shape mismatches {_format_keys(mismatched)}")
        raise ValueError(
            f"{source_name}: state dict does not fit {type(model).__name__}: " + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True)


def _official_state(path: str | Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    # A missing file is an error: the official loader prints a warning and runs with random weights.
    payload = read_checkpoint(path, map_location)
    if isinstance(payload, Mapping) and not all(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        for wrapper in ("state_dict", "model"):
            if isinstance(payload.get(wrapper), Mapping):
                payload = payload[wrapper]
                break
    if not isinstance(payload, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        raise ValueError(f"{path}: no state dict found (expected a mapping of tensors)")
    state = {}
    for key, value in payload.items():
        # Checkpoints saved from nn.DataParallel prefix every key.
        state[key.removeprefix("module.")] = value
    for key in IGNORED_CHECKPOINT_KEYS:
        if key in state:
            log.info("%s: ignoring %s (a training-only parameter)", path, key)
            del state[key]
    return state


def load_official(
    warp_path: str | Path,
    gen_path: str | Path,
    map_location: str | torch.device = "cpu",
    *,
    warp_widths: WarpWidths | None = None,
    gen_widths: GenWidths | None = None,
) -> tuple[AFWM, ResUnetGenerator]:
    """Load official PF-AFN checkpoints (``warp_model_final.pth``, ``gen_model_final.pth``).

    Accepts a plain state dict or one held under ``state_dict`` / ``model``; strips a
    ``module.`` prefix and drops the training-only ``aflow_net.weight``; otherwise strict.

    Args:
        warp_path: AFWM checkpoint.
        gen_path: generator checkpoint.
        map_location: passed to ``torch.load``.
        warp_widths: widths to build (official where None).
        gen_widths: widths to build (official where None).

    Returns:
        (AFWM, ResUnetGenerator) in eval mode.

    Raises:
        FileNotFoundError: a checkpoint file is missing.
        ValueError: a file is unreadable or its keys or shapes do not match, naming the file.
    """
    warp_model, gen_model = build_models(warp_widths, gen_widths)
    load_state_dict_checked(warp_model, _official_state(warp_path, map_location), str(warp_path))
    load_state_dict_checked(gen_model, _official_state(gen_path, map_location), str(gen_path))
    return warp_model.eval(), gen_model.eval()
