"""Frechet Inception Distance: the Frechet distance of two Gaussians, and FID through pytorch-fid.

The distance itself is plain numpy. FID needs pytorch-fid's Inception weights
(``pt_inception-2015-12-05-6726825d.pth``), which cannot be downloaded here: when the file is not
in ``$TORCH_HOME/hub/checkpoints`` the FID functions return None and `weights_hint` says where to
put it. Nothing is ever downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIMS = 2048  # the final average pool, as in the FID paper and pytorch-fid's default


@dataclass(frozen=True)
class GaussianStats:
    """Mean (D,) and covariance (D, D) of a set of feature vectors."""

    mean: np.ndarray
    covariance: np.ndarray


def gaussian_stats(features: np.ndarray) -> GaussianStats:
    """Sample mean and unbiased covariance of (N, D) features (N >= 2)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {features.shape}")
    return GaussianStats(features.mean(axis=0), np.cov(features, rowvar=False))


def frechet_distance(
    mean_a: np.ndarray, covariance_a: np.ndarray, mean_b: np.ndarray, covariance_b: np.ndarray
) -> float:
    """Squared Frechet (2-Wasserstein) distance of N(mean_a, covariance_a) and N(mean_b, covariance_b).

    ``|mean_a - mean_b|^2 + tr(covariance_a) + tr(covariance_b) - 2 tr((covariance_a covariance_b)^(1/2))``.
    The last trace is the sum of the square roots of the eigenvalues of the symmetric
    ``A^(1/2) B A^(1/2)``, which has those of ``A B``; two symmetric eigendecompositions replace
    the general matrix square root (scipy's sqrtm took 85 s at D = 2048 here, this 12 s) and need
    no regularising offset for singular covariances.

    Args:
        mean_a, mean_b: (D,) means; scalars are taken as D = 1.
        covariance_a, covariance_b: (D, D) symmetric positive semi-definite covariances.
    """
    mean_a = np.atleast_1d(np.asarray(mean_a, dtype=np.float64))
    mean_b = np.atleast_1d(np.asarray(mean_b, dtype=np.float64))
    covariance_a = np.atleast_2d(np.asarray(covariance_a, dtype=np.float64))
    covariance_b = np.atleast_2d(np.asarray(covariance_b, dtype=np.float64))
    if mean_a.shape != mean_b.shape or covariance_a.shape != covariance_b.shape:
        raise ValueError(
            f"shapes differ: means {mean_a.shape} / {mean_b.shape}, "
            f"covariances {covariance_a.shape} / {covariance_b.shape}"
        )
    if mean_a.ndim != 1 or covariance_a.shape != (mean_a.size, mean_a.size):
        raise ValueError(f"covariance {covariance_a.shape} does not match mean {mean_a.shape}")
    values, vectors = np.linalg.eigh(covariance_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ covariance_b @ root_a
    middle_values = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_of_root = float(np.sum(np.sqrt(np.clip(middle_values, 0, None))))
    mean_term = float(np.sum((mean_a - mean_b) ** 2))
    return mean_term + float(np.trace(covariance_a) + np.trace(covariance_b)) - 2 * trace_of_root


def frechet_distance_of(stats_a: GaussianStats, stats_b: GaussianStats) -> float:
    """`frechet_distance` of two `GaussianStats`."""
    return frechet_distance(stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance)


def frechet_distance_of_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """`frechet_distance` of the Gaussians fitted to (N_a, D) and (N_b, D) feature sets.

    With fewer samples than dimensions (200 try-ons against 2048 Inception features) the
    covariances have rank < N and ``tr((A B)^(1/2))`` is the nuclear norm of ``X_a X_b^T`` over
    ``sqrt((N_a - 1)(N_b - 1))`` (X centred features): the nonzero eigenvalues of
    ``X_a^T X_a X_b^T X_b`` are those of ``(X_a X_b^T)(X_a X_b^T)^T``. That is an (N_a, N_b)
    SVD instead of (D, D) decompositions.
    """
    features_a = np.asarray(features_a, dtype=np.float64)
    features_b = np.asarray(features_b, dtype=np.float64)
    for features in (features_a, features_b):
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(f"need (N >= 2, D) features, got shape {features.shape}")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"feature sizes differ: {features_a.shape[1]} and {features_b.shape[1]}")
    dims = features_a.shape[1]
    if min(len(features_a), len(features_b)) > dims:
        return frechet_distance_of(gaussian_stats(features_a), gaussian_stats(features_b))
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    centred_a, centred_b = features_a - mean_a, features_b - mean_b
    scale_a, scale_b = len(features_a) - 1, len(features_b) - 1
    trace_a = float(np.sum(centred_a**2)) / scale_a
    trace_b = float(np.sum(centred_b**2)) / scale_b
    singular_values = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False)
    trace_of_root = float(np.sum(singular_values)) / np.sqrt(scale_a * scale_b)
    return float(np.sum((mean_a - mean_b) ** 2)) + trace_a + trace_b - 2 * trace_of_root


def weights_path() -> Path:
    """Where pytorch-fid looks for its Inception weights (torch hub's checkpoint folder)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def weights_available() -> bool:
    return weights_path().is_file()


def weights_hint() -> str:
    """One line for reports: why FID is missing and where its weights file goes."""
    return (
        f"FID n/a: put pytorch-fid's {WEIGHTS_FILE} at {weights_path()} "
        "(or set TORCH_HOME); it is never downloaded"
    )


def import_torchvision():
    """Import torchvision, with a shim for the broken wheel beside the CPU torch build.

    The torchvision 0.28 wheel here is a CUDA build whose ``_C`` extension cannot load; its
    import then dies registering fake kernels for ``torchvision::nms`` and ``qnms``, operators
    that never got defined. Defining their schemas and importing again lets the pure-Python
    parts that pytorch-fid uses (models, transforms) load; the C++ ops stay unavailable. A
    working torchvision imports on the first try and is left alone.
    """
    import sys

    import torch

    try:
        import torchvision
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
        log.debug("torchvision import failed (%s); defining nms/qnms and retrying", error)
        for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        library = torch.library.Library("torchvision", "DEF")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        # The dispatcher keeps the definitions only while the Library object lives.
        _shim_libraries.append(library)
        import torchvision
    return torchvision


_shim_libraries: list = []


class InceptionFeatures:
    """pytorch-fid's InceptionV3 pool features, loaded from the local weights file only.

    Raises:
        FileNotFoundError: the weights file is missing (see `weights_hint`).
    """

    def __init__(self, batch_size: int = 16, device: str = "cpu"):
        import torch

        path = weights_path()
        if not path.is_file():
            raise FileNotFoundError(weights_hint())
        import_torchvision()
        from pytorch_fid import inception

        def local_weights(url: str, *args, **kwargs):
            # pytorch-fid asks for its weights by URL; hand it the local file instead, so a
            # missing or renamed file can never turn into a download.
            if not url.endswith(WEIGHTS_FILE):
                raise FileNotFoundError(f"pytorch-fid asked for {url}; only {path} is allowed")
            return torch.load(path, map_location="cpu", weights_only=True)

        original = inception.load_state_dict_from_url
        inception.load_state_dict_from_url = local_weights
        try:
            block = inception.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIMS]
            self.model = inception.InceptionV3([block]).eval().to(device)
        finally:
            inception.load_state_dict_from_url = original
        self.batch_size = batch_size
        self.device = device

    def __call__(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """(N, 2048) features of images given as (3, H, W) or (B, 3, H, W) float arrays in [-1, 1].

        Images are rounded to 8-bit levels first, as they would be when saved as PNG files for
        the pytorch-fid command line.
        """
        import torch

        batches = []
        pending: list[np.ndarray] = []

        def flush() -> None:
            array = np.concatenate(pending, axis=0)
            pending.clear()
            unit = np.round((np.clip(array, -1, 1) + 1) * 127.5) / 255.0
            with torch.no_grad():
                pooled = self.model(torch.from_numpy(unit.astype(np.float32)).to(self.device))[0]
            batches.append(pooled.squeeze(-1).squeeze(-1).cpu().numpy())

        for image in images:
            image = np.asarray(image, dtype=np.float32)
            pending.append(image[None] if image.ndim == 3 else image)
            if sum(len(chunk) for chunk in pending) >= self.batch_size:
                flush()
        if pending:
            flush()
        if not batches:
            raise ValueError("no images")
        return np.concatenate(batches, axis=0)


def fid(
    images_a: Iterable[np.ndarray], images_b: Iterable[np.ndarray], *, batch_size: int = 16
) -> float | None:
    """FID between two image sets ((3, H, W) or batched float arrays in [-1, 1]).

    Returns:
        The FID, or None when the Inception weights file is not present locally.
    """
    if not weights_available():
        log.info(weights_hint())
        return None
    features = InceptionFeatures(batch_size=batch_size)
    return frechet_distance_of_features(features(images_a), features(images_b))
