"""PF-AFN networks in torch: official keys, resampling conventions, loading and the try-on body."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from optimization.archs.afwm import AFWM, apply_offset, measure_warp_widths, warp  # noqa: E402
from optimization.archs.correlation import correlation  # noqa: E402
from optimization.archs.generator import ResUnetGenerator, measure_gen_widths  # noqa: E402
from optimization.archs.tryon import build_models, tryon_forward  # noqa: E402
from optimization.archs.widths import GenWidths, WarpWidths, tiny_gen_widths, tiny_warp_widths  # noqa: E402
from optimization.checkpoints import load_official  # noqa: E402
from optimization.model_stats import count_parameters  # noqa: E402

pytestmark = pytest.mark.optimize

_REPO = Path(__file__).resolve().parents[2]
# Key lists dumped from the official classes: shipped with the tests when present, else taken
# from the shared reference folder beside the checkout (or $PFAFN_REFERENCE_DIR).
REFERENCE_DIRS = [
    Path(os.environ.get("PFAFN_REFERENCE_DIR", _REPO / "tests" / "data")),
    _REPO / "tests" / "data",
    _REPO.parent / "shared" / "reference",
]
# Numbers from the reference (section 5), measured on the official classes.
OFFICIAL_WARP_PARAMETERS = 29_304_416
OFFICIAL_GEN_PARAMETERS = 43_899_968
OFFICIAL_WARP_PARTS = {
    "image_features": 9_374_278,
    "cond_features": 9_374_278,
    "image_FPN": 3_197_440,
    "cond_FPN": 3_197_440,
    "aflow_net": 4_160_980,
}


def _reference_file(name: str) -> Path:
    for folder in REFERENCE_DIRS:
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"reference key list {name} not found in {[str(d) for d in REFERENCE_DIRS]}")


def _official_keys(name: str) -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, dtype) rows of a reference key file, in state_dict order."""
    rows = []
    for line in _reference_file(name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape, dtype, _kind = line.split("\t")
        dims = tuple(int(d) for d in shape.strip("[]").split(",") if d.strip())
        rows.append((key, dims, dtype))
    return rows


def _our_keys(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [
        (key, tuple(value.shape), str(value.dtype).removeprefix("torch."))
        for key, value in model.state_dict().items()
    ]


@pytest.fixture(scope="module")
def official_width_models():
    return build_models()


# --- official structure --------------------------------------------------------------------


def test_official_parameter_counts(official_width_models):
    warp_model, gen_model = official_width_models
    assert count_parameters(warp_model) == OFFICIAL_WARP_PARAMETERS
    for part, count in OFFICIAL_WARP_PARTS.items():
        assert count_parameters(getattr(warp_model, part)) == count, part
    assert count_parameters(gen_model) == OFFICIAL_GEN_PARAMETERS
    assert len(warp_model.state_dict()) == 420 and len(gen_model.state_dict()) == 261


def test_warp_model_has_the_official_state_dict(official_width_models):
    warp_model, _ = official_width_models
    expected = _official_keys("pfafn_keys_afwm.txt")
    assert len(expected) == 420
    assert _our_keys(warp_model) == expected


def test_generator_has_the_official_state_dict(official_width_models):
    _, gen_model = official_width_models
    expected = _official_keys("pfafn_keys_gen.txt")
    assert len(expected) == 261
    assert _our_keys(gen_model) == expected
    # No conv in the official generator has a bias.
    convs = [m for m in gen_model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 46 and all(conv.bias is None for conv in convs)


def test_models_are_built_in_eval_mode(official_width_models):
    assert not any(model.training for model in official_width_models)


def test_correlation_is_a_submodule_of_the_flow_network(official_width_models):
    warp_model, _ = official_width_models
    from optimization.archs.correlation import Correlation

    assert isinstance(warp_model.aflow_net.correlation, Correlation)


def test_measured_widths_of_official_models_are_the_defaults(official_width_models):
    warp_model, gen_model = official_width_models
    assert measure_warp_widths(warp_model) == WarpWidths()
    assert measure_gen_widths(gen_model) == GenWidths()


# --- resampling conventions ----------------------------------------------------------------


def _zero_offset_distortion(height: int = 256, width: int = 192) -> tuple[float, float, float]:
    """Max and mean |final grid - identity| in pixels (x and y components), and worst corner."""
    torch.manual_seed(0)
    warp_model = AFWM(tiny_warp_widths()).eval()
    with torch.no_grad():
        for head in [*warp_model.aflow_net.netMain, *warp_model.aflow_net.netRefine]:
            head[-1].weight.zero_()
            head[-1].bias.zero_()
        person = torch.rand(1, 3, height, width) * 2 - 1
        clothes = torch.rand(1, 3, height, width) * 2 - 1
        _, last_flow = warp_model(person, clothes)
    assert last_flow.shape == (1, 2, height, width)
    x_pixels = (last_flow[0, 0] + 1) / 2 * (width - 1)
    y_pixels = (last_flow[0, 1] + 1) / 2 * (height - 1)
    rows, columns = torch.meshgrid(
        torch.arange(height, dtype=torch.float32),
        torch.arange(width, dtype=torch.float32),
        indexing="ij",
    )
    displacement = torch.stack([x_pixels - columns, y_pixels - rows]).abs()
    corners = displacement[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    return displacement.max().item(), displacement.mean().item(), corners.max().item()


def test_zero_offsets_reproduce_the_reference_distortion():
    # Reference section 2: with faithful settings, zero offsets shift interior points by up to
    # 13.6 px (mean 7.3 px) while the corners stay fixed.
    largest, mean, corner = _zero_offset_distortion()
    assert largest == pytest.approx(13.6, abs=0.1)
    assert mean == pytest.approx(7.3, abs=0.1)
    assert corner < 1e-3


def test_modern_grid_sample_default_would_give_the_larger_distortion(monkeypatch):
    # The same experiment with align_corners=False in grid_sample gives 38 px (mean 21.8 px):
    # shows that the numbers above actually pin our align_corners choice.
    original = F.grid_sample

    def modern_grid_sample(*args, **kwargs):
        return original(*args, **{**kwargs, "align_corners": False})

    monkeypatch.setattr(F, "grid_sample", modern_grid_sample)
    largest, mean, _ = _zero_offset_distortion()
    assert largest == pytest.approx(38, abs=0.5)
    assert mean == pytest.approx(21.8, abs=0.1)


def test_apply_offset_zero_is_the_identity_and_channel_zero_moves_x():
    image = torch.arange(5 * 7, dtype=torch.float32).view(1, 1, 5, 7)
    offset = torch.zeros(1, 2, 5, 7)
    identity = F.grid_sample(image, apply_offset(offset), align_corners=True)
    torch.testing.assert_close(identity, image)
    offset[:, 0] = 1.0  # one pixel to the right: each output reads its right-hand neighbour
    shifted = F.grid_sample(image, apply_offset(offset), align_corners=True)
    torch.testing.assert_close(shifted[..., :-1], image[..., 1:])
    offset = torch.zeros(1, 2, 5, 7)
    offset[:, 1] = 1.0  # one row down
    shifted = F.grid_sample(image, apply_offset(offset), align_corners=True)
    torch.testing.assert_close(shifted[..., :-1, :], image[..., 1:, :])


def test_warp_padding_modes():
    image = torch.full((1, 1, 4, 4), 3.0)
    outside = torch.full((1, 2, 4, 4), 2.0)  # every sample lies beyond the right/bottom edge
    assert torch.all(warp(image, outside) == 3.0)
    assert torch.all(warp(image, outside, padding_mode="zeros") == 0.0)


# --- correlation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("dy", "dx"), [(0, 0), (-2, 1), (3, -3), (1, 2)])
def test_correlation_channel_follows_the_shift_of_second(dy, dx):
    generator = torch.Generator().manual_seed(2)
    first = torch.randn(1, 64, 12, 12, generator=generator)
    # second(y + dy, x + dx) = first(y, x)
    second = torch.roll(first, shifts=(dy, dx), dims=(2, 3))
    cost_volume = correlation(first, second)
    assert cost_volume.shape == (1, 49, 12, 12)
    interior = cost_volume[0, :, 4:8, 4:8]
    expected_channel = (dy + 3) * 7 + (dx + 3)
    assert torch.all(interior.argmax(dim=0) == expected_channel)
    torch.testing.assert_close(interior[expected_channel], (first[0, :, 4:8, 4:8] ** 2).mean(dim=0))


def test_correlation_treats_second_as_zero_outside_the_image():
    first = torch.ones(1, 4, 5, 6)
    second = torch.ones(1, 4, 5, 6)
    cost_volume = correlation(first, second)
    # At the top-left pixel, shifts with dy < 0 or dx < 0 read outside the image.
    top_left = cost_volume[0, :, 0, 0].view(7, 7)
    assert torch.all(top_left[:3] == 0) and torch.all(top_left[:, :3] == 0)
    assert torch.all(top_left[3:, 3:] == 1)


# --- the flow network against a straight-line restatement of reference section 3 -----------


def _naive_correlation(first, second):
    """Reference section 3.5 written with explicit valid ranges instead of padding."""
    n, channels, height, width = first.shape
    out = torch.zeros(n, 49, height, width)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            k = (dy + 3) * 7 + (dx + 3)
            y0, y1 = max(0, -dy), min(height, height - dy)
            x0, x1 = max(0, -dx), min(width, width - dx)
            if y0 >= y1 or x0 >= x1:
                continue
            products = (
                first[:, :, y0:y1, x0:x1] * second[:, :, y0 + dy : y1 + dy, x0 + dx : x1 + dx]
            )
            out[:, k, y0:y1, x0:x1] = products.sum(dim=1) / channels
    return out


def _meshgrid_offset(offset):
    height, width = offset.shape[-2:]
    gy, gx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    x = (gx.float().unsqueeze(0) + offset[:, 0]) / ((width - 1.0) / 2.0) - 1.0
    y = (gy.float().unsqueeze(0) + offset[:, 1]) / ((height - 1.0) / 2.0) - 1.0
    return torch.stack([x, y], dim=-1)


def _sample(source, grid, padding="border"):
    return F.grid_sample(source, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def _restated_afwm(model, person, clothes):
    def pyramid(encoder, fpn, image):
        features, x = [], image
        for stage in encoder.encoders:
            x = stage(x)
            features.append(x)
        levels, previous = [], None
        for j in range(5):
            level = fpn.adaptive[j](features[4 - j])
            if previous is not None:
                level = level + F.interpolate(previous, scale_factor=2, mode="nearest")
            previous = fpn.smooth[j](level)
            levels.append(previous)
        return levels[::-1]

    cloth_levels = pyramid(model.image_features, model.image_FPN, clothes)
    person_levels = pyramid(model.cond_features, model.cond_FPN, person)
    flow_net = model.aflow_net
    last_flow = None
    for i in range(5):
        x_warp, x_cond = cloth_levels[4 - i], person_levels[4 - i]
        after = x_warp if i == 0 else _sample(x_warp, last_flow.permute(0, 2, 3, 1))
        corr = F.leaky_relu(_naive_correlation(after, x_cond), 0.1)
        grid = _meshgrid_offset(flow_net.netMain[i](corr))
        flow = grid.permute(0, 3, 1, 2) if i == 0 else _sample(last_flow, grid)
        last_flow = flow
        x_warp = _sample(x_warp, flow.permute(0, 2, 3, 1))
        grid = _meshgrid_offset(flow_net.netRefine[i](torch.cat([x_warp, x_cond], 1)))
        flow = _sample(last_flow, grid)
        last_flow = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=False)
    return _sample(clothes, last_flow.permute(0, 2, 3, 1)), last_flow


def test_afwm_forward_matches_the_restated_reference(tiny_torch_models, tiny_tryon_inputs):
    warp_model, _ = tiny_torch_models
    person, clothes, _ = tiny_tryon_inputs
    with torch.no_grad():
        # Larger offsets than a fresh init gives, so that wrong composition order would show.
        for head in [*warp_model.aflow_net.netMain, *warp_model.aflow_net.netRefine]:
            head[-1].weight.mul_(20)
        warped, last_flow = warp_model(person, clothes)
        expected_warped, expected_flow = _restated_afwm(warp_model, person, clothes)
    assert last_flow.shape == (1, 2, *person.shape[-2:])
    torch.testing.assert_close(last_flow, expected_flow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(warped, expected_warped, atol=1e-4, rtol=1e-4)


def test_pyramids_are_finest_first(tiny_torch_models, tiny_tryon_inputs):
    warp_model, _ = tiny_torch_models
    person, clothes, _ = tiny_tryon_inputs
    with torch.no_grad():
        cloth_pyramid, person_pyramid = warp_model.pyramids(person, clothes)
    fpn = tiny_warp_widths().fpn
    height, width = person.shape[-2:]
    for pyramid in (cloth_pyramid, person_pyramid):
        assert [tuple(level.shape) for level in pyramid] == [
            (1, fpn, height >> (k + 1), width >> (k + 1)) for k in range(5)
        ]


# --- loading ---------------------------------------------------------------------------------


def _save(path: Path, payload) -> Path:
    torch.save(payload, path)
    return path


def test_load_official_round_trip_with_prefix_wrapper_and_training_key(
    tmp_path, tiny_torch_models, tiny_tryon_inputs
):
    warp_model, gen_model = tiny_torch_models
    warp_state = {f"module.{k}": v for k, v in warp_model.state_dict().items()}
    warp_state["module.aflow_net.weight"] = torch.randn(4, 1, 3, 3)
    warp_path = _save(tmp_path / "warp.pth", warp_state)
    gen_path = _save(tmp_path / "gen.pth", {"state_dict": gen_model.state_dict(), "epoch": 3})
    loaded_warp, loaded_gen = load_official(
        warp_path, gen_path, warp_widths=tiny_warp_widths(), gen_widths=tiny_gen_widths()
    )
    assert not loaded_warp.training and not loaded_gen.training
    with torch.no_grad():
        expected = tryon_forward(warp_model, gen_model, *tiny_tryon_inputs)
        got = tryon_forward(loaded_warp, loaded_gen, *tiny_tryon_inputs)
    for name, value in expected.items():
        assert torch.equal(got[name], value), name


def test_load_official_accepts_a_model_wrapper(tmp_path, tiny_torch_models):
    warp_model, gen_model = tiny_torch_models
    warp_path = _save(tmp_path / "warp.pth", {"model": warp_model.state_dict()})
    gen_path = _save(tmp_path / "gen.pth", gen_model.state_dict())
    loaded_warp, _ = load_official(
        warp_path, gen_path, warp_widths=tiny_warp_widths(), gen_widths=tiny_gen_widths()
    )
    for key, value in warp_model.state_dict().items():
        assert torch.equal(loaded_warp.state_dict()[key], value)


def test_load_official_names_missing_and_unexpected_keys(tmp_path, tiny_torch_models):
    warp_model, gen_model = tiny_torch_models
    warp_state = dict(warp_model.state_dict())
    del warp_state["aflow_net.netRefine.2.4.bias"]
    warp_state["aflow_net.extra.weight"] = torch.zeros(1)
    warp_path = _save(tmp_path / "broken_warp.pth", warp_state)
    gen_path = _save(tmp_path / "gen.pth", gen_model.state_dict())
    with pytest.raises(ValueError) as raised:
        load_official(
            warp_path, gen_path, warp_widths=tiny_warp_widths(), gen_widths=tiny_gen_widths()
        )
    message = str(raised.value)
    assert "broken_warp.pth" in message
    assert "missing" in message and "aflow_net.netRefine.2.4.bias" in message
    assert "unexpected" in message and "aflow_net.extra.weight" in message


def test_load_official_summarises_a_wholly_wrong_file(tmp_path, tiny_torch_models):
    warp_model, gen_model = tiny_torch_models
    # The generator's weights given as the warp checkpoint: every key differs.
    swapped = _save(tmp_path / "swapped.pth", gen_model.state_dict())
    gen_path = _save(tmp_path / "gen.pth", gen_model.state_dict())
    with pytest.raises(ValueError) as raised:
        load_official(
            swapped, gen_path, warp_widths=tiny_warp_widths(), gen_widths=tiny_gen_widths()
        )
    message = str(raised.value)
    warp_keys = len(warp_model.state_dict())
    assert f"missing keys {warp_keys} [" in message
    assert f"unexpected keys {len(gen_model.state_dict())} [" in message
    assert "more" in message and len(message) < 4000


def test_load_official_rejects_other_widths_and_missing_files(tmp_path, tiny_torch_models):
    warp_model, gen_model = tiny_torch_models
    warp_path = _save(tmp_path / "warp.pth", warp_model.state_dict())
    gen_path = _save(tmp_path / "gen.pth", gen_model.state_dict())
    wider = GenWidths(down=(8, 16, 16, 16, 24), up=(8, 16, 16, 16))
    with pytest.raises(ValueError, match="shape"):
        load_official(warp_path, gen_path, warp_widths=tiny_warp_widths(), gen_widths=wider)
    with pytest.raises(FileNotFoundError):
        load_official(tmp_path / "absent.pth", gen_path, warp_widths=tiny_warp_widths())


# --- the test-time body ----------------------------------------------------------------------


def test_tryon_forward_shapes_and_composite(tiny_torch_models, tiny_tryon_inputs):
    warp_model, gen_model = tiny_torch_models
    person, clothes, edge = tiny_tryon_inputs
    with torch.no_grad():
        # Push the coarsest grid two rows down, so that the final flow samples below the image
        # (where the edge touches the border) and the padding mode matters.
        warp_model.aflow_net.netMain[0][-1].bias[1] += 2.0
        out = tryon_forward(warp_model, gen_model, person, clothes, edge)
        raw = gen_model(torch.cat([person, out["warped_cloth"], out["warped_edge"]], dim=1))
    n, _, height, width = person.shape
    shapes = {
        "warped_cloth": 3,
        "last_flow": 2,
        "warped_edge": 1,
        "p_rendered": 3,
        "m_composite": 1,
        "p_tryon": 3,
        "clothes": 3,
        "edge": 1,
    }
    assert {name: tuple(value.shape) for name, value in out.items()} == {
        name: (n, channels, height, width) for name, channels in shapes.items()
    }
    binary = (edge > 0.5).float()
    assert torch.equal(out["edge"], binary)
    assert torch.equal(out["clothes"], clothes * binary)
    expected_edge = F.grid_sample(
        binary, out["last_flow"].permute(0, 2, 3, 1), padding_mode="zeros", align_corners=True
    )
    torch.testing.assert_close(out["warped_edge"], expected_edge)
    border_edge = F.grid_sample(
        binary, out["last_flow"].permute(0, 2, 3, 1), padding_mode="border", align_corners=True
    )
    assert not torch.allclose(expected_edge, border_edge), "the flow never leaves the image"
    torch.testing.assert_close(out["p_rendered"], torch.tanh(raw[:, :3]))
    torch.testing.assert_close(out["m_composite"], torch.sigmoid(raw[:, 3:]) * out["warped_edge"])
    m = out["m_composite"]
    torch.testing.assert_close(
        out["p_tryon"], out["warped_cloth"] * m + out["p_rendered"] * (1 - m)
    )


def test_tryon_forward_binarises_jpeg_like_edges(tiny_torch_models, tiny_tryon_inputs):
    warp_model, gen_model = tiny_torch_models
    person, clothes, _ = tiny_tryon_inputs
    clean = torch.zeros(1, 1, *person.shape[-2:])
    clean[:, :, 30:70, 16:48] = 1.0
    noisy = clean * 0.6 + (1 - clean) * 0.4  # 0.6 inside, 0.4 outside
    with torch.no_grad():
        from_clean = tryon_forward(warp_model, gen_model, person, clothes, clean)
        from_noisy = tryon_forward(warp_model, gen_model, person, clothes, noisy)
    for name, value in from_clean.items():
        assert torch.equal(from_noisy[name], value), name


def test_tryon_forward_with_an_empty_edge_renders_the_person_only(
    tiny_torch_models, tiny_tryon_inputs
):
    warp_model, gen_model = tiny_torch_models
    person, clothes, edge = tiny_tryon_inputs
    with torch.no_grad():
        out = tryon_forward(warp_model, gen_model, person, clothes, torch.zeros_like(edge))
        raw = gen_model(torch.cat([person, out["warped_cloth"], out["warped_edge"]], dim=1))
    assert torch.all(out["clothes"] == 0)
    assert torch.all(out["warped_edge"] == 0)
    assert torch.all(out["m_composite"] == 0)
    torch.testing.assert_close(out["p_tryon"], torch.tanh(raw[:, :3]))
    torch.testing.assert_close(out["p_tryon"], out["p_rendered"])


# --- widths ----------------------------------------------------------------------------------


def test_generator_with_pruned_like_widths_builds_and_runs():
    widths = GenWidths(down=(6, 10, 12, 14, 9), up=(5, 7, 11, 13))
    gen_model = ResUnetGenerator(widths).eval()
    with torch.no_grad():
        output = gen_model(torch.randn(1, 7, 64, 96))
    assert output.shape == (1, 4, 64, 96)
    assert measure_gen_widths(gen_model) == widths


def test_warp_model_with_uneven_widths_builds_and_runs():
    widths = WarpWidths(
        cloth_encoder=(5, 7, 9, 11, 6),
        person_encoder=(6, 8, 10, 12, 7),
        fpn=12,
        flow_main=((9, 7, 5), (8, 6, 4), (10, 6, 4), (7, 7, 7), (6, 5, 4)),
        flow_refine=((11, 6, 5), (9, 7, 4), (8, 8, 8), (6, 6, 6), (12, 5, 4)),
    )
    warp_model = AFWM(widths).eval()
    with torch.no_grad():
        warped, last_flow = warp_model(torch.randn(1, 3, 64, 96), torch.randn(1, 3, 64, 96))
    assert warped.shape == (1, 3, 64, 96) and last_flow.shape == (1, 2, 64, 96)
    assert measure_warp_widths(warp_model) == widths


@pytest.mark.parametrize(
    "widths", [WarpWidths(), GenWidths(), tiny_warp_widths(), tiny_gen_widths()]
)
def test_widths_round_trip_through_json(widths):
    data = json.loads(json.dumps(widths.to_dict()))
    assert type(widths).from_dict(data) == widths


def test_scaled_widths():
    assert WarpWidths().scaled(1.0) == WarpWidths()
    half = WarpWidths().scaled(0.5)
    assert half.cloth_encoder == (32, 64, 128, 128, 128)
    assert half.fpn == 128 and half.flow_main[0] == (64, 32, 16)
    assert GenWidths().scaled(0.25) == GenWidths(down=(16, 32, 64, 128, 128), up=(16, 32, 64, 128))
    assert set(GenWidths().scaled(0.001).down) == {4}


def test_widths_reject_bad_descriptions():
    with pytest.raises(ValueError, match="unknown"):
        GenWidths.from_dict({"down": [1, 2, 3, 4, 5], "ngf": 64})
    with pytest.raises(ValueError, match="up"):
        GenWidths.from_dict({"up": [8, 8, 8]})
    with pytest.raises(ValueError, match="flow_main"):
        WarpWidths.from_dict({"flow_main": [[8, 8, 8]] * 4})
    with pytest.raises(ValueError, match="fpn"):
        WarpWidths(fpn=0)
