"""The metrics our reports rank models by, against independent implementations: SSIM against
scikit-image's, the Frechet distance against pytorch-fid's, to 1e-4."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.optimize
torch = pytest.importorskip("torch", reason="optimization.metrics computes in torch")
skimage_data = pytest.importorskip("skimage.data", reason="the reference SSIM is scikit-image's")

from skimage.metrics import structural_similarity  # noqa: E402

from optimization.fid import (  # noqa: E402
    frechet_distance,
    frechet_distance_of_features,
    gaussian_stats,
    import_torchvision,
)
from optimization.metrics import photo_ssim, ssim  # noqa: E402

# Wang et al. (2004) as scikit-image computes it when asked to: an 11x11 Gaussian window of sigma
# 1.5 (its radius is int(3.5 sigma + 0.5) = 5), population rather than sample covariances.
WANG_2004 = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
RADIUS = 5


def _photo_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of uint8 (256, 192, 3) photos (scikit-image's samples, shipped with it): each with a
    blurred, noisy, re-compressed copy of itself, and two unrelated photos."""
    rng = np.random.default_rng(0)
    photos = [
        cv2.resize(image, (192, 256), interpolation=cv2.INTER_AREA)
        for image in (skimage_data.astronaut(), skimage_data.chelsea(), skimage_data.coffee())
    ]
    pairs = []
    for photo in photos:
        noisy = cv2.GaussianBlur(photo, (5, 5), 1.2).astype(np.int16)
        noisy += rng.integers(-20, 21, size=photo.shape, dtype=np.int16)
        noisy = np.clip(noisy, 0, 255).astype(np.uint8)
        _, jpeg = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 40])
        pairs.append((photo, cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)))
    pairs.append((photos[0], photos[1]))
    return pairs


def _tensor(photo: np.ndarray, low: float, high: float) -> torch.Tensor:
    """(1, 3, H, W) float32 with 0..255 mapped onto [low, high]."""
    values = torch.from_numpy(photo).permute(2, 0, 1)[None].double() / 255
    return (low + values * (high - low)).float()


@pytest.mark.parametrize("pair", range(4))
def test_ssim_of_intensities_is_scikit_images(pair):
    photo, other = _photo_pairs()[pair]
    # Valid convolution: scikit-image's mean leaves out the window's radius at every edge too.
    expected = structural_similarity(photo, other, channel_axis=-1, data_range=255, **WANG_2004)
    got = float(ssim(_tensor(photo, 0, 1), _tensor(other, 0, 1), data_range=1.0))
    assert got == pytest.approx(expected, abs=1e-4)
    assert 0.02 < expected < 0.98  # a pair the window can tell apart from equal or unrelated


def test_ssim_of_model_space_images_is_scikit_images_on_the_same_values():
    pairs = _photo_pairs()
    images = torch.cat([_tensor(photo, -1, 1) for photo, _ in pairs])
    others = torch.cat([_tensor(other, -1, 1) for _, other in pairs])
    expected = [
        structural_similarity(
            image.numpy(), other.numpy(), channel_axis=0, data_range=2.0, **WANG_2004
        )
        for image, other in zip(images, others, strict=True)
    ]
    got = ssim(images, others, reduce=False).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert float(ssim(images, others)) == pytest.approx(np.mean(expected), abs=1e-4)


@pytest.mark.parametrize("pair", range(4))
def test_photo_ssim_is_scikit_images_map_over_the_whole_photo(pair):
    photo, other = _photo_pairs()[pair]
    # scipy's "reflect" (scikit-image's filter) is OpenCV's BORDER_REFLECT: the edge pixel repeats.
    _, ssim_map = structural_similarity(
        photo, other, channel_axis=-1, data_range=255, full=True, **WANG_2004
    )
    assert photo_ssim(photo, other) == pytest.approx(float(ssim_map.mean()), abs=1e-4)
    inside = float(ssim_map[RADIUS:-RADIUS, RADIUS:-RADIUS].mean())
    assert photo_ssim(photo, other) != pytest.approx(inside, abs=1e-6), "the edges should count"


@pytest.fixture(scope="module")
def reference_frechet_distance():
    import_torchvision()  # pytorch-fid imports torchvision, which needs the shim here
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    return fid_score.calculate_frechet_distance


def _feature_sets(count_a: int, count_b: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of correlated features with different means and covariances."""
    rng = np.random.default_rng(count_a * 1000 + dims)
    features_a = rng.normal(size=(count_a, dims)) @ rng.normal(size=(dims, dims)) / np.sqrt(dims)
    features_b = 0.7 * rng.normal(size=(count_b, dims)) @ rng.normal(size=(dims, dims))
    return features_a, features_b / np.sqrt(dims) + 0.2


@pytest.mark.parametrize(
    ("count_a", "count_b", "dims"),
    [(300, 400, 64), (2000, 1500, 256), (50, 70, 64)],  # the last: rank-deficient covariances
)
def test_frechet_distance_is_pytorch_fids(reference_frechet_distance, count_a, count_b, dims):
    features_a, features_b = _feature_sets(count_a, count_b, dims)
    stats_a, stats_b = gaussian_stats(features_a), gaussian_stats(features_b)
    expected = reference_frechet_distance(
        stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance
    )
    got = frechet_distance(stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance)
    assert got == pytest.approx(expected, abs=1e-4)
    assert frechet_distance_of_features(features_a, features_b) == pytest.approx(expected, abs=1e-4)
    assert expected > 1  # the two sets really differ
