"""Image-quality metrics: SSIM, PSNR, mask IoU in torch (inputs in [-1, 1] unless stated), and
the SSIM of two photos in numpy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _gaussian_window(size: int = 11, sigma: float = 1.5, channels: int = 3) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    kernel_1d = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel_1d = kernel_1d / kernel_1d.sum()
    kernel_2d = kernel_1d[:, None] * kernel_1d[None, :]
    return kernel_2d.expand(channels, 1, size, size).contiguous()


def ssim(
    a: torch.Tensor, b: torch.Tensor, *, data_range: float = 2.0, reduce: bool = True
) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5).

    The mean runs over the valid convolution, as scikit-image's `structural_similarity` with
    `gaussian_weights=True, sigma=1.5, use_sample_covariance=False` does. SSIM is not
    shift-invariant: on [-1, 1] images this is the SSIM of those values, not that of the pixel
    intensities (`ssim((a + 1) / 2, (b + 1) / 2, data_range=1)`, which `photo_ssim` and
    scikit-image on uint8 photos compute); on natural photo pairs the two differ by up to about
    0.04 (tests/unit/test_metrics.py).

    Args:
        a, b: (N, C, H, W) images on the same scale (default [-1, 1], so `data_range` 2).
        reduce: mean over the batch; otherwise one value per image.
    """
    channels = a.shape[1]
    window = _gaussian_window(channels=channels).to(a)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    per_image = ssim_map.flatten(1).mean(dim=1)
    return per_image.mean() if reduce else per_image


def psnr(a: torch.Tensor, b: torch.Tensor, *, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per image."""
    mse = (a - b).pow(2).flatten(1).mean(dim=1).clamp_min(1e-12)
    return 10 * torch.log10(data_range**2 / mse)


def mask_iou(predicted: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Intersection over union of two (N, 1, H, W) masks in [0, 1], one value per image."""
    p = (predicted > threshold).flatten(1)
    t = (target > threshold).flatten(1)
    union = (p | t).sum(dim=1).clamp_min(1)
    return (p & t).sum(dim=1) / union


def photo_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 photos (H, W, 3) over the whole image, as the VITON comparisons report it.

    11x11 Gaussian window, sigma 1.5, borders reflected (the picture's edge counts like its
    middle, unlike `ssim`'s valid convolution), mean over pixels and channels, on 0..255.
    """
    import cv2

    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())
