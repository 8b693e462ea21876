"""Frechet distance on Gaussians with closed forms; FID mechanics with a random-weight Inception."""

from __future__ import annotations

import numpy as np
import pytest

from optimization.fid import (
    WEIGHTS_FILE,
    frechet_distance,
    frechet_distance_of_features,
    gaussian_stats,
)


def _random_covariance(rng, dims):
    factor = rng.normal(size=(dims, dims))
    return factor @ factor.T + 0.1 * np.eye(dims)


def test_identical_gaussians_are_at_distance_zero():
    rng = np.random.default_rng(0)
    mean, covariance = rng.normal(size=6), _random_covariance(rng, 6)
    assert frechet_distance(mean, covariance, mean, covariance) == pytest.approx(0, abs=1e-9)


def test_equal_covariances_leave_the_squared_mean_distance():
    rng = np.random.default_rng(1)
    covariance = _random_covariance(rng, 5)
    mean_a, mean_b = rng.normal(size=5), rng.normal(size=5)
    expected = float(np.sum((mean_a - mean_b) ** 2))
    assert frechet_distance(mean_a, covariance, mean_b, covariance) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("mean_a", "variance_a", "mean_b", "variance_b"),
    [(0.0, 1.0, 0.0, 4.0), (1.0, 2.0, -2.0, 0.5), (3.0, 9.0, 3.0, 9.0), (0.0, 0.0, 1.0, 1.0)],
)
def test_one_dimensional_gaussians(mean_a, variance_a, mean_b, variance_b):
    expected = (mean_a - mean_b) ** 2 + (np.sqrt(variance_a) - np.sqrt(variance_b)) ** 2
    got = frechet_distance(mean_a, variance_a, mean_b, variance_b)
    assert got == pytest.approx(expected, abs=1e-12)


def test_diagonal_covariances_add_per_axis():
    variances_a, variances_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = 1.0 + np.sum((np.sqrt(variances_a) - np.sqrt(variances_b)) ** 2)
    got = frechet_distance(
        np.zeros(3), np.diag(variances_a), np.ones(3) / np.sqrt(3), np.diag(variances_b)
    )
    assert got == pytest.approx(expected)


def test_non_commuting_two_by_two_covariances():
    # For 2x2 PSD matrices, tr(sqrt(M)) = sqrt(tr M + 2 sqrt(det M)), and AB has the
    # eigenvalues of A^(1/2) B A^(1/2), whose determinant is det A det B.
    covariance_a = np.array([[2.0, 0.8], [0.8, 1.0]])
    covariance_b = np.array([[1.0, -0.3], [-0.3, 3.0]])
    product = covariance_a @ covariance_b
    trace_of_root = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    expected = np.trace(covariance_a) + np.trace(covariance_b) - 2 * trace_of_root
    got = frechet_distance(np.zeros(2), covariance_a, np.zeros(2), covariance_b)
    assert got == pytest.approx(expected)


def test_distance_is_symmetric():
    rng = np.random.default_rng(2)
    a = (rng.normal(size=4), _random_covariance(rng, 4))
    b = (rng.normal(size=4), _random_covariance(rng, 4))
    assert frechet_distance(*a, *b) == pytest.approx(frechet_distance(*b, *a))


def test_sample_statistics_recover_the_closed_form():
    rng = np.random.default_rng(3)
    samples_a = rng.normal(loc=1.0, scale=2.0, size=(200_000, 1))
    samples_b = rng.normal(loc=-1.0, scale=1.0, size=(200_000, 1))
    stats_a, stats_b = gaussian_stats(samples_a), gaussian_stats(samples_b)
    got = frechet_distance(stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance)
    assert got == pytest.approx(4.0 + 1.0, rel=0.01)


@pytest.mark.parametrize(("count_a", "count_b", "dims"), [(5, 7, 12), (30, 20, 6)])
def test_feature_shortcut_matches_the_covariance_formula(count_a, count_b, dims):
    rng = np.random.default_rng(4)
    features_a = rng.normal(size=(count_a, dims))
    features_b = 0.5 * rng.normal(size=(count_b, dims)) + 0.3
    stats_a, stats_b = gaussian_stats(features_a), gaussian_stats(features_b)
    expected = frechet_distance(stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance)
    assert frechet_distance_of_features(features_a, features_b) == pytest.approx(expected, rel=1e-6)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="features"):
        frechet_distance_of_features(np.zeros((1, 4)), np.zeros((3, 4)))


def test_without_local_weights_fid_is_none_and_nothing_is_downloaded(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from optimization import fid as fid_module

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def no_download(*args, **kwargs):
        raise AssertionError("FID tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    images = np.zeros((2, 3, 64, 48), np.float32)
    assert fid_module.fid(images, images) is None
    hint = fid_module.weights_hint()
    assert WEIGHTS_FILE in hint and str(tmp_path / "torch-home") in hint
    with pytest.raises(FileNotFoundError, match=WEIGHTS_FILE):
        fid_module.InceptionFeatures()
    assert not (tmp_path / "torch-home").exists()


@pytest.mark.slow
@pytest.mark.optimize
def test_fid_mechanics_with_random_inception_weights(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from optimization import fid as fid_module

    checkpoints = tmp_path / "torch-home" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    torchvision = fid_module.import_torchvision()
    torch.manual_seed(0)
    # The FID blocks only override forward(), so torchvision's Inception3 with 1008 classes and
    # no auxiliary head has exactly their parameters.
    inception = torchvision.models.inception.Inception3(
        num_classes=1008, aux_logits=False, init_weights=False
    )
    torch.save(inception.state_dict(), checkpoints / WEIGHTS_FILE)
    assert fid_module.weights_available()

    rng = np.random.default_rng(5)
    images = np.clip(rng.normal(0, 0.4, size=(3, 3, 64, 48)), -1, 1).astype(np.float32)
    brighter = np.clip(images + 0.8, -1, 1)
    features = fid_module.InceptionFeatures(batch_size=2)  # one full batch, one partial
    pooled = features(list(images))
    assert pooled.shape == (3, 2048) and np.isfinite(pooled).all()

    # Random weights shrink the activations by orders of magnitude, so compare relatively.
    distance = fid_module.fid(images, brighter)
    assert distance == pytest.approx(
        frechet_distance_of_features(pooled, features(brighter)), rel=1e-5
    )
    assert distance > 0
    assert abs(frechet_distance_of_features(pooled, pooled)) < 1e-6 * distance
