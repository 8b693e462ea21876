"""VITON-layout try-on pairs as a torch Dataset, with the official PF-AFN test transforms.

A VITON folder holds `test_img/` (persons), `test_clothes/` (product photos), `test_edge/` (the
garments' filled silhouettes, named like the garment) and a pairs file of `person cloth` lines.
Synthetic folders (`optimize synth`) add `gt/` (the person wearing the garment, named like the
person) and `gt_cloth_mask/` (`<person stem>.png`). Images are read with Pillow exactly as the
official loader does (`convert('RGB')` / `convert('L')`) and must already be 192 wide x 256 high;
nothing is resized.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

IMAGE_SIZE = (192, 256)  # (width, height), as PIL reports it
PAIRS_FILES = ("pairs.txt", "test_pairs.txt", "demo.txt")
FOLDERS = {"person": "test_img", "clothes": "test_clothes", "edge": "test_edge"}
GT_FOLDERS = {"gt": "gt", "gt_cloth_mask": "gt_cloth_mask"}


def _open(path: str | Path, mode: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            return np.array(image.convert(mode))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ValueError(f"{path}: unreadable image ({error})") from error


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB, decoded like the official loader (PIL `convert('RGB')`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable image.
    """
    return _open(path, "RGB")


def read_gray(path: str | Path) -> np.ndarray:
    """An image file as (H, W) uint8 grey levels (PIL `convert('L')`); errors as `read_rgb`."""
    return _open(path, "L")


def _check_size(path: Path, image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    if (width, height) != IMAGE_SIZE:
        raise ValueError(
            f"{path}: image is {width}x{height} (WxH); VITON images must be "
            f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} (nothing is resized)"
        )
    return image


def rgb_to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1]: ToTensor then Normalize(0.5, 0.5)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()
    return tensor.float().div(255).sub(0.5).div(0.5)


def gray_to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W) uint8 -> (1, H, W) float32 in [0, 1] (ToTensor)."""
    return torch.from_numpy(np.ascontiguousarray(image))[None].float().div(255)


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """`(person, cloth)` file names from a pairs file; blank lines and `#` comments are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line does not hold exactly two names (the message gives file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pairs file")
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        names = content.split()
        if len(names) != 2:
            raise ValueError(
                f"{path}:{number}: expected 'person_image cloth_image', got {line.strip()!r}"
            )
        pairs.append((names[0], names[1]))
    return pairs


class VitonPairs(Dataset):
    """Person/garment pairs of a VITON-layout folder.

    Items are dicts: `person` and `clothes` (3, 256, 192) float32 in [-1, 1], RGB; `edge`
    (1, 256, 192) float32 in [0, 1], not binarised; `person_name`, `cloth_name`; and, when the folder
    has ground truth, `gt` (3, 256, 192) in [-1, 1] and `gt_cloth_mask` (1, 256, 192) in {0, 1}.

    Args:
        root: the dataset folder.
        pairs_file: the pairs file; a relative path is looked up in the working directory, then in
            `root`. Default: the first of `pairs.txt`, `test_pairs.txt`, `demo.txt` in `root`.
        with_ground_truth: "auto" (use `gt/` and `gt_cloth_mask/` when both exist), True (require
            them) or False (ignore them).

    Raises:
        FileNotFoundError: the folder, a sub-folder, the pairs file or a listed image is missing.
        ValueError: a malformed pairs line, an empty pairs file or a bad `with_ground_truth`.
    """

    def __init__(
        self,
        root: str | Path,
        pairs_file: str | Path | None = None,
        with_ground_truth: bool | str = "auto",
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: no such folder")
        for folder in FOLDERS.values():
            if not (self.root / folder).is_dir():
                raise FileNotFoundError(
                    f"{self.root / folder}: missing folder (a VITON folder holds "
                    f"{', '.join(f + '/' for f in FOLDERS.values())})"
                )
        has_folders = all((self.root / folder).is_dir() for folder in GT_FOLDERS.values())
        if with_ground_truth == "auto":
            self.has_ground_truth = has_folders
        elif with_ground_truth is True or with_ground_truth is False:
            if with_ground_truth and not has_folders:
                raise FileNotFoundError(
                    f"{self.root}: ground truth requested but gt/ or gt_cloth_mask/ is missing"
                )
            self.has_ground_truth = with_ground_truth
        else:
            raise ValueError(
                f"with_ground_truth must be 'auto', True or False, got {with_ground_truth!r}"
            )

        self.pairs_file = self._find_pairs_file(pairs_file)
        self.pairs = read_pairs(self.pairs_file)
        if not self.pairs:
            raise ValueError(f"{self.pairs_file}: no pairs listed")
        for index in range(len(self.pairs)):
            for path in self._paths(index).values():
                if not path.is_file():
                    raise FileNotFoundError(f"{path}: no such file (listed in {self.pairs_file})")

    def _find_pairs_file(self, pairs_file: str | Path | None) -> Path:
        if pairs_file is None:
            for name in PAIRS_FILES:
                if (self.root / name).is_file():
                    return self.root / name
            raise FileNotFoundError(f"{self.root}: no pairs file ({', '.join(PAIRS_FILES)})")
        path = Path(pairs_file)
        if not path.is_absolute() and not path.is_file():
            path = self.root / path
        if not path.is_file():
            raise FileNotFoundError(f"{pairs_file}: no such pairs file (nor in {self.root})")
        return path

    def _paths(self, index: int) -> dict[str, Path]:
        person, cloth = self.pairs[index]
        paths = {
            "person": self.root / FOLDERS["person"] / person,
            "clothes": self.root / FOLDERS["clothes"] / cloth,
            "edge": self.root / FOLDERS["edge"] / cloth,
        }
        if self.has_ground_truth:
            paths["gt"] = self.root / GT_FOLDERS["gt"] / person
            paths["gt_cloth_mask"] = (
                self.root / GT_FOLDERS["gt_cloth_mask"] / (Path(person).stem + ".png")
            )
        return paths

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"pair {index} out of range ({len(self)} pairs)")
        paths = self._paths(index % len(self))
        person, cloth = self.pairs[index]
        item = {
            "person": rgb_to_tensor(_check_size(paths["person"], read_rgb(paths["person"]))),
            "clothes": rgb_to_tensor(_check_size(paths["clothes"], read_rgb(paths["clothes"]))),
            "edge": gray_to_tensor(_check_size(paths["edge"], read_gray(paths["edge"]))),
            "person_name": person,
            "cloth_name": cloth,
        }
        if self.has_ground_truth:
            item["gt"] = rgb_to_tensor(_check_size(paths["gt"], read_rgb(paths["gt"])))
            mask = _check_size(paths["gt_cloth_mask"], read_gray(paths["gt_cloth_mask"]))
            item["gt_cloth_mask"] = torch.from_numpy((mask > 127).astype(np.float32))[None]
        return item
