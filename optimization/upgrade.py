"""Bring an artifact exported by an earlier toolkit up to what the app uses now, without checkpoints.

Full-resolution composition needs the generator's rendered person (`p_rendered`) and composition
mask (`m_composite`) besides the try-on, and render graphs exported before they were outputs
compute both anyway: the try-on is ``warped_cloth * m + tanh(...) * (1 - m)`` with
``m = sigmoid(...) * warped_edge`` (PF-AFN's test-time body). This finds those two tensors in the
graph and makes them outputs; the weights and every other output stay as they were.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

from tryon_app.core.artifact import (
    COMPOSITION_OUTPUTS,
    EDGE,
    FLOW,
    FUSED_GRAPH,
    M_COMPOSITE,
    METADATA_FILE,
    P_RENDERED,
    P_TRYON,
    SPLIT_RENDER_GRAPH,
    WARPED_CLOTH,
    write_metadata,
)

log = logging.getLogger(__name__)


class UpgradeError(RuntimeError):
    """The graph is not the test-time body this module knows how to read."""


def add_composition_outputs(model):
    """`model` (an OpenVINO model with a `p_tryon` output) with `p_rendered` and `m_composite` too.

    Returns the model unchanged when it already has both.

    Raises:
        UpgradeError: the try-on is not computed as PF-AFN's composite (no single tanh and
            sigmoid-times-edge feeding it).
    """
    import openvino as ov
    from openvino import opset13 as ops

    names = {name for port in model.outputs for name in port.get_names()}
    if set(COMPOSITION_OUTPUTS) <= names:
        return model
    tryon_port = next((port for port in model.outputs if P_TRYON in port.get_names()), None)
    if tryon_port is None:
        raise UpgradeError("the graph has no p_tryon output")
    ancestry = _ancestors(tryon_port.get_node())
    tanh = [node for node in ancestry if node.get_type_name() == "Tanh"]
    sigmoid = [node for node in ancestry if node.get_type_name() == "Sigmoid"]
    if len(tanh) != 1 or len(sigmoid) != 1:
        raise UpgradeError(
            f"expected one Tanh and one Sigmoid before p_tryon, found {len(tanh)} and "
            f"{len(sigmoid)}"
        )
    # m = sigmoid(...) * warped_edge: the Multiply that consumes the sigmoid.
    masks = [
        target.get_node()
        for target in sigmoid[0].output(0).get_target_inputs()
        if target.get_node().get_type_name() == "Multiply"
    ]
    if len(masks) != 1:
        raise UpgradeError("the sigmoid does not feed exactly one multiplication by the edge")
    shape = list(tryon_port.get_partial_shape().to_shape())  # (1, 3, H, W)
    results = list(model.get_results())
    for name, source, channels in (
        (P_RENDERED, tanh[0].output(0), 3),
        (M_COMPOSITE, masks[0].output(0), 1),
    ):
        target = ops.constant(np.array([shape[0], channels, *shape[2:]], dtype=np.int64))
        reshaped = ops.reshape(source, target, special_zero=False)
        reshaped.output(0).get_tensor().set_names({name})
        results.append(ops.result(reshaped))
    upgraded = ov.Model(results, model.get_parameters(), model.get_friendly_name())
    for port in upgraded.outputs:
        if port.get_node().get_output_partial_shape(0).is_dynamic:
            raise UpgradeError(f"{port.get_any_name()}: the upgraded output has no static shape")
    return upgraded


def _ancestors(node) -> list:
    """Every node `node` depends on (itself included)."""
    seen, stack, found = set(), [node], []
    while stack:
        current = stack.pop()
        key = current.get_friendly_name() + "/" + current.get_type_name()
        if key in seen:
            continue
        seen.add(key)
        found.append(current)
        stack.extend(port.get_source_output().get_node() for port in current.inputs())
    return found


def upgrade_artifact(root: str | Path) -> list[str]:
    """Add the composition outputs to the render and fused graphs of the artifact in `root`.

    The graphs are written beside the originals, checked (the try-on unchanged, and equal to
    the composite of the new outputs), and only then replace them; `metadata.json` is re-hashed.

    Returns:
        The graphs that changed (empty when the artifact was already up to date).
    """
    import openvino as ov

    from tryon_app.core.artifact import load_artifact

    root = Path(root)
    artifact = load_artifact(root)
    core = ov.Core()
    changed = []
    staging = root / ".upgrade"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for relative in (SPLIT_RENDER_GRAPH, FUSED_GRAPH):
            source = root / relative
            if not source.is_file():
                continue
            model = core.read_model(str(source))
            upgraded = add_composition_outputs(model)
            if upgraded is model:
                continue
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            ov.save_model(upgraded, target, compress_to_fp16=False)
            _check_upgrade(core, source, target)
            changed.append(relative)
        for relative in changed:
            for suffix in (".xml", ".bin"):
                (staging / relative).with_suffix(suffix).replace(
                    (root / relative).with_suffix(suffix)
                )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if changed:
        document = json.loads((root / METADATA_FILE).read_text(encoding="utf-8"))
        for key in ("schema", "schema_version", "files"):
            document.pop(key, None)
        document.setdefault("provenance", {}).setdefault("upgrades", []).append(
            {"added_outputs": list(COMPOSITION_OUTPUTS), "graphs": changed}
        )
        write_metadata(root, document)
    log.info("%s: %s", artifact.name, ", ".join(changed) or "already up to date")
    return changed


def _check_upgrade(core, before: Path, after: Path) -> None:
    """The upgraded graph gives the same try-on, and the try-on is the composite of its parts."""
    rng = np.random.default_rng(0)
    old, new = core.compile_model(str(before), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}), None
    new = core.compile_model(str(after), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    inputs = {}
    for port in old.inputs:
        shape = list(port.get_partial_shape().to_shape())
        name = port.get_any_name()
        if name == EDGE:
            inputs[name] = (rng.random(shape) > 0.4).astype(np.float32)
        elif name == FLOW:
            ys, xs = np.meshgrid(
                np.linspace(-1, 1, shape[2]), np.linspace(-1, 1, shape[3]), indexing="ij"
            )
            inputs[name] = np.stack([xs, ys])[None].astype(np.float32) * 0.9
        else:
            inputs[name] = rng.uniform(-1, 1, shape).astype(np.float32)
    expected = old(inputs)[old.output(P_TRYON)]
    out = new(inputs)
    got = out[new.output(P_TRYON)]
    if not np.allclose(got, expected, atol=1e-5):
        raise UpgradeError(f"{after.name}: the upgrade changed the try-on")
    mask = out[new.output(M_COMPOSITE)]
    composite = out[new.output(WARPED_CLOTH)] * mask + out[new.output(P_RENDERED)] * (1 - mask)
    if not np.allclose(composite, got, atol=1e-4):
        raise UpgradeError(f"{after.name}: p_rendered and m_composite do not compose the try-on")
