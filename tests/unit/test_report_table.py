"""The compression report's baseline choice, ratios and cell formatting."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.optimize
pytest.importorskip("torch")

from optimization.evaluate import ArtifactEvaluation  # noqa: E402
from optimization.report import (  # noqa: E402
    Variant,
    choose_baseline,
    markdown_table,
    plot_latency_stages,
    spread,
    table_rows,
)


def _stats(total_mb, parameters=2_000_000, gflops=12.5):
    half = total_mb / 2
    return {
        "size_mb": {"warp": half, "gen": half, "split_total": total_mb, "fused": total_mb},
        "parameters": parameters,
        "gflops": gflops,
    }


def _evaluation(name, ssim_vs_teacher=0.97, speed=None):
    return ArtifactEvaluation(
        model=f"run/artifacts/{name}",
        name=name,
        precision="int8",
        quantizer="nncf",
        pairs=10,
        teacher="run/artifacts/teacher-fp32",
        ssim_vs_teacher=ssim_vs_teacher,
        psnr_vs_teacher=31.234,
        ssim_vs_gt=0.81234,
        psnr_vs_gt=20.5,
        warped_mask_iou=0.9,
        fid_vs_gt=None,
        fid_note="FID n/a: no weights",
        stats=_stats(10.0),
        speed=speed,
    )


def _variant(name, total_mb, evaluation=None, precision="fp32", quantizer=None):
    return Variant(name, Path(name), evaluation, _stats(total_mb), precision, quantizer)


def test_baseline_is_the_requested_then_the_teacher_then_the_largest():
    small, teacher, large = _variant("a-small", 5), _variant("teacher-fp32", 50), _variant("z", 80)
    assert choose_baseline([small, teacher, large]) is teacher
    assert choose_baseline([small, large]) is large
    assert choose_baseline([small, teacher, large], "a-small") is small
    with pytest.raises(ValueError, match="'nope' is not a variant"):
        choose_baseline([small], "nope")


def test_rows_give_ratios_against_the_baseline_and_mark_it():
    teacher = _variant("teacher-fp32", 120.0)
    student = _variant("pruned-ptq", 30.0, _evaluation("pruned-ptq"), "int8", "nncf")
    rows = table_rows([student, teacher], teacher)
    assert [row["variant"] for row in rows] == ["**teacher-fp32**", "pruned-ptq"]
    assert rows[0]["compression"] == "1x (ref)" and rows[0]["SSIM vs teacher"] == "ref"
    assert rows[1]["compression"] == "4.0x"
    assert rows[1]["precision"] == "int8 (nncf)"
    assert rows[1]["SSIM vs teacher"] == "0.9700" and rows[1]["PSNR vs teacher"] == "31.23"
    assert rows[1]["FID"] == "n/a" and rows[1]["try-ons/s"] == "n/a"
    assert rows[1]["params (M)"] == "2.00" and rows[1]["GFLOPs"] == "12.5"
    assert rows[0]["SSIM vs GT"] == "n/a"  # not evaluated yet


def test_markdown_table_aligns_numbers_right():
    teacher = _variant("teacher", 1.0)
    text = markdown_table(table_rows([teacher], teacher))
    header, rule, row = text.splitlines()
    assert header.startswith("| variant | precision | GFLOPs |")
    assert rule.startswith("|---|---|---:|")
    assert row.count("|") == header.count("|")


def test_latency_plot_needs_a_timed_variant(tmp_path):
    assert not plot_latency_stages([_variant("teacher", 1.0)], tmp_path / "latency.png")
    stages = {
        stage: {"p50": value, "p90": value, "mean": value}
        for stage, value in {
            "encoders": 10.0,
            "correlation": 2.0,
            "flow": 5.0,
            "generator": 8.0,
            "total": 27.0,
        }.items()
    }
    speed = {"stages_ms": stages, "tryons_per_second": 37.0}
    timed = _variant("student", 1.0, _evaluation("student", speed=speed))
    assert plot_latency_stages([timed], tmp_path / "latency.png")
    assert (tmp_path / "latency.png").stat().st_size > 1000


def test_labels_of_close_points_spread_apart_in_order_and_far_ones_stay():
    values = [0.888, 0.871, 1.0, 0.887, 0.876]
    heights = spread(values, gap=0.01)

    assert heights[2] == 1.0 and heights[1] == 0.871  # nothing below them within the gap
    order = sorted(range(len(values)), key=values.__getitem__)
    placed = [heights[i] for i in order]
    assert all(
        upper - lower >= 0.01 - 1e-12 for lower, upper in zip(placed[:-1], placed[1:], strict=True)
    )
    assert all(height >= value for height, value in zip(heights, values, strict=True))
