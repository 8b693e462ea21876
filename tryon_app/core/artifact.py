"""Model artifacts: a folder of OpenVINO IR files described by `metadata.json`, verified on load.

`metadata.json` is the source of truth: schema, input convention, architecture widths, how the
model was made, measured quality and speed, and the sha256 of every file. The app refuses an
artifact whose schema it does not know or whose files do not match their hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tryon_app.core.errors import ArtifactError

SCHEMA = "openvino-tryon/artifact"
SCHEMA_VERSION = 1
METADATA_FILE = "metadata.json"
INPUT_HEIGHT, INPUT_WIDTH = 256, 192
LEVELS = 5


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A verified model folder.

    Attributes:
        root: the folder.
        metadata: the parsed `metadata.json`.
    """

    root: Path
    metadata: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.metadata.get("name", self.root.name)

    @property
    def precision(self) -> str:
        return self.metadata.get("precision", "fp32")

    @property
    def layouts(self) -> dict[str, Any]:
        return self.metadata["layouts"]

    def path(self, relative: str) -> Path:
        return self.root / relative

    def size_bytes(self) -> int:
        return sum(self.path(name).stat().st_size for name in self.metadata["files"])

    def split_files(self) -> dict[str, Any]:
        if "split" not in self.layouts:
            raise ArtifactError(f"{self.root / METADATA_FILE}: this artifact has no split layout")
        return self.layouts["split"]


def _require(condition: bool, where: Path, problem: str) -> None:
    if not condition:
        raise ArtifactError(f"{where}: {problem}")


def load_artifact(root: str | Path, *, verify_hashes: bool = True) -> Artifact:
    """Read and check an artifact folder.

    Raises:
        ArtifactError: one line naming the file and the problem (missing folder or file, invalid
            JSON, unknown schema or version, hash mismatch).
    """
    root = Path(root)
    meta_path = root / METADATA_FILE
    _require(root.is_dir(), root, "model folder not found")
    _require(meta_path.is_file(), meta_path, "missing (not a model artifact folder)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{meta_path}: unreadable metadata ({error})") from None
    _require(isinstance(metadata, dict), meta_path, "metadata is not a JSON object")
    _require(
        metadata.get("schema") == SCHEMA, meta_path, f"unknown schema {metadata.get('schema')!r}"
    )
    version = metadata.get("schema_version")
    _require(
        version == SCHEMA_VERSION,
        meta_path,
        f"schema version {version!r} is not supported (this app reads version {SCHEMA_VERSION})",
    )
    files = metadata.get("files")
    _require(isinstance(files, dict) and bool(files), meta_path, "no file list")
    _require(isinstance(metadata.get("layouts"), dict), meta_path, "no layouts")
    # Missing files first: a deleted file is a clearer diagnosis than a damaged one beside it.
    for relative in files:
        _require((root / relative).is_file(), root / relative, "missing model file")
    if verify_hashes:
        for relative, expected in files.items():
            _require(
                sha256_of(root / relative) == expected,
                root / relative,
                "damaged model file (sha256 does not match metadata.json)",
            )
    return Artifact(root=root, metadata=metadata)


def write_metadata(root: Path, metadata: dict[str, Any]) -> None:
    """Write `metadata.json`, hashing every IR file under `root` into its file list."""
    root = Path(root)
    files = {
        path.relative_to(root).as_posix(): sha256_of(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in {".xml", ".bin", ".onnx"}
    }
    document = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **metadata, "files": files}
    (root / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def find_artifacts(search_dirs: list[Path]) -> list[Path]:
    """Every folder with a `metadata.json` directly under the given folders (unverified)."""
    found = []
    for base in search_dirs:
        if base.is_dir():
            found.extend(sorted(p.parent for p in base.glob(f"*/{METADATA_FILE}")))
    return found
