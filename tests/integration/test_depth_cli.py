"""`optimize igm --depth` end to end on a generator 1/16 of the official width: remove blocks
and a level, distil with uncertainty-weighted terms and a PatchGAN discriminator, export, and
run the artifact with `tryon run`; `optimize cwm --depth` the same way on the warping module
(encoder blocks and refinement heads). The parts alone: tests/unit/test_depth.py and
test_depth_cwm.py."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]
torch = pytest.importorskip("torch")
pytest.importorskip("nncf")

from optimization.adversarial import Adversary  # noqa: E402
from optimization.archs.afwm import ResBlock  # noqa: E402
from optimization.archs.generator import ResidualBlock  # noqa: E402
from optimization.checkpoints import load_models  # noqa: E402
from optimization.cli import main as optimize  # noqa: E402
from optimization.data.synthetic import write_dataset  # noqa: E402
from optimization.recipes import OUTPUT_WEIGHTS, DistillRecipe, default  # noqa: E402
from tests.conftest import save_scaled_teacher, teacher_run_arguments  # noqa: E402

WIDTH_FACTOR = 0.0625


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("depth")
    save_scaled_teacher(root / "teacher", WIDTH_FACTOR)
    write_dataset(root / "data", n_pairs=6, seed=11, progress=False)
    return root


def _common(root, run) -> list[str]:
    return [*teacher_run_arguments(root, run), "--batch-size", "3"]


def _residual_blocks(model) -> int:
    return sum(isinstance(m, ResidualBlock) for m in model.modules())


def test_depth_pruning_distils_with_dynamic_weights_and_a_discriminator_then_runs_in_the_app(
    teacher_and_data, tmp_path, monkeypatch, capsys
):
    root = teacher_and_data
    discriminators = []

    class RecordedAdversary(Adversary):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.initial = copy.deepcopy(self.discriminator.state_dict())
            discriminators.append(self)

    monkeypatch.setattr("optimization.distill.Adversary", RecordedAdversary)
    run = tmp_path / "run"
    depth = ["--depth", "blocks=1,levels=4", "--adversarial-weight", "0.1"]
    command = ["-q", "igm", *depth, "--discriminator-width", "8", "--epochs", "1"]
    assert optimize([*command, *_common(root, run)]) == 0

    # Blocks and a level are really gone; the student loads like any checkpoint of ours.
    teacher_warp, teacher_gen = load_models(
        root / "teacher" / "warp.pth", root / "teacher" / "gen.pth"
    )
    _, student_gen = load_models(root / "teacher" / "warp.pth", run / "student" / "gen.pth")
    assert _residual_blocks(teacher_gen) == 18
    # One block on each path of the 4 levels kept: 4 encoder paths and 3 decoder stages.
    assert _residual_blocks(student_gen) == 4 + 3
    inputs = torch.rand(1, 7, 256, 192) * 2 - 1
    with torch.no_grad():
        assert student_gen(inputs).shape == teacher_gen(inputs).shape
    stage = json.loads((run / "stages" / "depth_igm.json").read_text())
    assert stage["levels_removed"] == 1 and stage["gmacs_after"] < stage["gmacs_before"]

    # The learned weights moved away from the static weights they started at.
    (epoch,) = (json.loads(line) for line in (run / "distill_igm" / "distill_history.jsonl").open())
    static = {**OUTPUT_WEIGHTS, "supervised": default(DistillRecipe, "supervised_weight")}
    learned = {
        name.removeprefix("weight_"): v for name, v in epoch.items() if name.startswith("weight_")
    }
    assert {"p_tryon", "supervised"} <= set(learned)
    assert "warped_cloth" not in learned  # the frozen warp's terms keep their static weights
    for name in ("p_tryon", "supervised"):
        assert learned[name] != pytest.approx(static[name], rel=1e-4), name
    # The discriminator trained beside the student.
    assert math.isfinite(epoch["adversarial"]) and math.isfinite(epoch["discriminator"])
    (adversary,) = discriminators
    trained = adversary.discriminator.state_dict()
    assert any(
        not torch.equal(adversary.initial[k], trained[k])
        for k in trained
        if trained[k].is_floating_point()
    )
    recipe = json.loads((run / "stages" / "distill_igm.json").read_text())["recipe"]
    assert recipe["loss_weighting"] == "uncertainty" and recipe["adversarial_weight"] == 0.1

    # Export went through the usual path; the app runs the shallower generator.
    artifact = run / "artifacts" / "igmdepth-blocks1-levels4-fp32"
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert len(metadata["architecture"]["gen"]["down"]) == 4
    assert sum(w == 0 for pair in metadata["architecture"]["gen"]["down_inner"] for w in pair) == 4

    from tryon_app.cli import main as tryon

    capsys.readouterr()
    person = next((root / "data" / "test_img").iterdir())
    cloth = next((root / "data" / "test_clothes").iterdir())
    out = tmp_path / "tryon.png"
    arguments = ["run", "--person", str(person), "--cloth", str(cloth), "--model", str(artifact)]
    assert tryon([*arguments, "--out", str(out)]) == 0, capsys.readouterr().err
    import cv2

    image = cv2.imread(str(out))
    assert image.shape == (256, 192, 3)
    assert np.abs(image.astype(int) - cv2.imread(str(person)).astype(int)).mean() > 1


def test_igm_needs_a_ratio_or_a_depth(teacher_and_data, tmp_path, capsys):
    assert optimize(["igm", *_common(teacher_and_data, tmp_path / "run")]) == 1
    assert "--ratio, --depth or both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        optimize(["igm", "--depth", "blocks=3", "--out", str(tmp_path / "run")])
    assert usage.value.code == 2
    assert "0 to 2 residual blocks" in capsys.readouterr().err


def test_cwm_depth_pruning_removes_encoder_blocks_and_refinement_heads_then_distils_and_exports(
    teacher_and_data, tmp_path, capsys
):
    root = teacher_and_data
    run = tmp_path / "run"
    command = ["cwm", "--depth", "blocks=1,r4=0", "--epochs", "1"]
    assert optimize([*command, *_common(root, run)]) == 0
    assert "20 -> 10 residual blocks, 5 -> 4 refinement heads" in capsys.readouterr().out

    teacher_warp, teacher_gen = load_models(
        root / "teacher" / "warp.pth", root / "teacher" / "gen.pth"
    )
    student_warp, _ = load_models(run / "student" / "warp.pth", root / "teacher" / "gen.pth")
    assert sum(isinstance(m, ResBlock) for m in teacher_warp.modules()) == 20
    assert sum(isinstance(m, ResBlock) for m in student_warp.modules()) == 10
    assert not student_warp.aflow_net.refines(4) and student_warp.aflow_net.refines(3)
    stage = json.loads((run / "stages" / "depth_cwm.json").read_text())
    assert stage["refine_heads_after"] == 4 and "r4" in stage["removed_blocks"]
    assert stage["gmacs_after"] < stage["gmacs_before"]

    # The existing distillation of the warping module ran on the shallower student, with the
    # warp's terms balanced by learned weights (depth pruning's default).
    recipe = json.loads((run / "stages" / "distill_cwm.json").read_text())["recipe"]
    assert recipe["loss_weighting"] == "uncertainty" and recipe["train"] == ["warp"]
    (epoch,) = (json.loads(line) for line in (run / "distill_cwm" / "distill_history.jsonl").open())
    learned = {name for name in epoch if name.startswith("weight_")}
    assert {"weight_warped_cloth", "weight_flow", "weight_p_tryon"} <= learned

    artifact = run / "artifacts" / "cwmdepth-blocks1-r40-fp32"
    metadata = json.loads((artifact / "metadata.json").read_text())
    assert metadata["architecture"]["warp"]["flow_refine"][4] == [0, 0, 0]
    assert metadata["verification"]["split_max_abs_p_tryon"] < 1e-3


def test_cwm_needs_a_ratio_or_a_depth_and_says_what_a_bad_spec_is(
    teacher_and_data, tmp_path, capsys
):
    assert optimize(["cwm", *_common(teacher_and_data, tmp_path / "run")]) == 1
    assert "--ratio, --depth or both" in capsys.readouterr().err
    for spec, message in (("r4=2", "kept (1) or removed (0)"), ("levels=4", "not one of")):
        with pytest.raises(SystemExit) as usage:
            optimize(["cwm", "--depth", spec, "--out", str(tmp_path / "run")])
        assert usage.value.code == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error
