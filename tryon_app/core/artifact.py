"""Model artifacts: a folder of OpenVINO IR files described by `metadata.json`, verified on load.

`metadata.json` is the source of truth: schema, input convention, architecture widths, how the
model was made, measured quality and speed, and the sha256 of every file. It is checked against a
typed schema (`ArtifactMetadata`) before anything reads it: the app refuses an artifact whose
schema it does not know, whose layouts use a file the list does not hash, or whose files do not
match their hashes, with one line that names the file and the problem.

This module is the contract between export (`optimization/export.py`) and the runtime
(`tryon_app/core/pipeline.py`), defined once and read by both: the model's input size, where each
graph lives (`SplitLayout`, `FUSED_GRAPH`) with the files each layout uses (`Layouts.files`: an IR
graph is its `.xml` and the `.bin` beside it), what each graph calls its inputs and outputs
(`graph_tensors`), and the document export writes (`metadata_document`).
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from tryon_app.core.errors import ArtifactError, openvino_reason

SCHEMA = "openvino-tryon/artifact"
SCHEMA_VERSION = 1
METADATA_FILE = "metadata.json"
INPUT_HEIGHT, INPUT_WIDTH = 256, 192
"""The model's input size: VITON photos are 192 wide by 256 high."""
LEVELS = 5
"""Pyramid levels of the warping module, and flow-level graphs of the split layout."""
PRECISIONS = ("fp32", "fp16", "int8")
QUANTIZERS = ("nncf", "inc")
"""Post-training int8 by NNCF or by Intel Neural Compressor's PT2E (metadata's `quantizer`)."""

MAX_METADATA_BYTES = 16 * 2**20
"""A real metadata.json is tens of kB; a bigger one is not read."""

SPLIT_FEATURES_GRAPH = "split/features.xml"
SPLIT_RENDER_GRAPH = "split/render.xml"
FUSED_GRAPH = "fused.xml"
LAYOUT_NAMES = ("split", "fused")
GRAPH_ROLES = ("features", "levels", "render")
"""What each graph of the split layout computes: both feature pyramids, the flow levels, the
generator. A post-training int8 export may keep some roles in float (`--float`): the level graphs
compute the flow, where INT8 costs most of the quality."""

# Sections the runtime does not read but other tools do: when present they must be JSON objects
# (or lists), so a tool reading them meets the type it expects.
_OBJECT_SECTIONS = ("input", "architecture", "tools", "provenance", "verification", "quality")
_STRING_LIST_SECTIONS = ("quantized_graphs", "float_graphs")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def split_level_graph(index: int) -> str:
    """The IR of flow level `index` (0 = coarsest) in the split layout."""
    return f"split/level_{index}.xml"


def weights_of(graph: str) -> str:
    """The `.bin` OpenVINO reads beside an IR `.xml` (relative paths, POSIX separators)."""
    return str(PurePosixPath(graph).with_suffix(".bin"))


def graph_role(graph: str) -> str | None:
    """`features`, `levels` or `render` for a split graph; None for the fused graph (every role)."""
    if graph == FUSED_GRAPH:
        return None
    stem = PurePosixPath(graph).stem
    return "levels" if stem.startswith("level_") else stem


# --------------------------------------------------------------------------- tensor names
# Export gives the graphs' inputs and outputs these names; the runtime binds its buffers by them.

PERSON, CLOTHES, EDGE = "person", "clothes", "edge"
MODEL_INPUTS = (PERSON, CLOTHES, EDGE)
"""The try-on's inputs, in the order both layouts take them."""
INPUT_SHAPES = {
    PERSON: (1, 3, INPUT_HEIGHT, INPUT_WIDTH),
    CLOTHES: (1, 3, INPUT_HEIGHT, INPUT_WIDTH),
    EDGE: (1, 1, INPUT_HEIGHT, INPUT_WIDTH),
}
"""Person and clothes float32 RGB in [-1, 1], the clothes masked by the edge, float32 in {0, 1}."""

CORR = "corr"
CLOTH_FEATURE, PERSON_FEATURE = "cloth_feature", "person_feature"
LAST_FLOW, FLOW = "last_flow", "flow"
WARPED_CLOTH, WARPED_EDGE, P_TRYON = "warped_cloth", "warped_edge", "p_tryon"
P_RENDERED, M_COMPOSITE = "p_rendered", "m_composite"
COMPOSITION_OUTPUTS = (P_RENDERED, M_COMPOSITE)
"""Render-graph outputs that full-resolution composition needs; older artifacts lack them."""


def cloth_pyramid(level: int) -> str:
    """The features graph's clothes feature of pyramid level `level` (0 = finest)."""
    return f"cloth_{level}"


def person_pyramid(level: int) -> str:
    """The features graph's person feature of pyramid level `level` (0 = finest)."""
    return f"person_{level}"


@dataclass(frozen=True)
class GraphTensors:
    """The names of one graph's inputs and outputs, in the order it takes and returns them."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


FEATURES_TENSORS = GraphTensors(
    (PERSON, CLOTHES),
    tuple(cloth_pyramid(i) for i in range(LEVELS))
    + tuple(person_pyramid(i) for i in range(LEVELS)),
)
RENDER_TENSORS = GraphTensors(
    (PERSON, CLOTHES, EDGE, FLOW), (WARPED_CLOTH, WARPED_EDGE, P_TRYON, *COMPOSITION_OUTPUTS)
)
FUSED_TENSORS = GraphTensors(
    MODEL_INPUTS, (P_TRYON, WARPED_CLOTH, WARPED_EDGE, LAST_FLOW, *COMPOSITION_OUTPUTS)
)


def level_tensors(level: int) -> GraphTensors:
    """Flow level `level` (0 = coarsest, which has no flow so far to refine)."""
    inputs = (CORR, CLOTH_FEATURE, PERSON_FEATURE) + ((LAST_FLOW,) if level > 0 else ())
    return GraphTensors(inputs, (FLOW,))


def graph_tensors(graph: str) -> GraphTensors:
    """The tensor names of a graph, by its path in the layouts export writes.

    Raises:
        KeyError: not a graph of those layouts.
    """
    if graph == SPLIT_FEATURES_GRAPH:
        return FEATURES_TENSORS
    if graph == SPLIT_RENDER_GRAPH:
        return RENDER_TENSORS
    if graph == FUSED_GRAPH:
        return FUSED_TENSORS
    levels = [split_level_graph(i) for i in range(LEVELS)]
    if graph in levels:
        return level_tensors(levels.index(graph))
    raise KeyError(graph)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def graph_read_error(xml_path: Path, error: BaseException) -> ArtifactError:
    """The error to show when OpenVINO cannot read the IR at `xml_path`: which file, and why.

    OpenVINO reads the `.xml` and the `.bin` beside it in one call; the message blames the
    weights file when OpenVINO's reason is about the weights, the graph file otherwise.
    """
    reason = openvino_reason(error)
    if re.search(r"\bbin file\b|\bweights\b", reason, re.IGNORECASE):
        weights = xml_path.with_suffix(".bin")
        return ArtifactError(
            f"{weights}: cannot read the weights of {xml_path.name} ({reason}; the file is "
            "truncated, damaged or from another export)"
        )
    return ArtifactError(
        f"{xml_path}: cannot read the model graph ({reason}; the file is truncated, damaged or "
        "not an OpenVINO IR)"
    )


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class SplitLayout:
    """The split layout's graphs: both feature pyramids, one graph per flow level, the generator.

    The defaults are where export writes them.
    """

    features: str = SPLIT_FEATURES_GRAPH
    levels: tuple[str, ...] = tuple(split_level_graph(i) for i in range(LEVELS))
    render: str = SPLIT_RENDER_GRAPH

    def graphs(self) -> tuple[str, ...]:
        return (self.features, *self.levels, self.render)

    def to_json(self) -> dict[str, Any]:
        return {"features": self.features, "levels": list(self.levels), "render": self.render}


@dataclass(frozen=True)
class Layouts:
    """The layouts an artifact provides (at least one): `split`, `fused` (one IR), or both."""

    split: SplitLayout | None = field(default_factory=SplitLayout)
    fused: str | None = FUSED_GRAPH

    def names(self) -> tuple[str, ...]:
        return tuple(name for name in LAYOUT_NAMES if getattr(self, name) is not None)

    def graphs(self, name: str) -> tuple[str, ...]:
        """The IR `.xml` files of one layout."""
        if name == "split" and self.split is not None:
            return self.split.graphs()
        if name == "fused" and self.fused is not None:
            return (self.fused,)
        raise KeyError(name)

    def files(self, name: str) -> tuple[str, ...]:
        """Every file one layout needs: each graph's `.xml` and its `.bin`."""
        return tuple(path for graph in self.graphs(name) for path in (graph, weights_of(graph)))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.split is not None:
            document["split"] = self.split.to_json()
        if self.fused is not None:
            document["fused"] = self.fused
        return document


@dataclass(frozen=True)
class ArtifactMetadata:
    """What `metadata.json` declares, checked: the part of it the runtime relies on, typed.

    Attributes:
        name: the model's name, None when the metadata gives none (the folder name is used).
        precision: weights precision, one of PRECISIONS.
        layouts: the graphs, per layout.
        files: relative path -> sha256 (lowercase hex) of every file of the artifact.
        schema_version: the version of this schema the file was written with.
    """

    name: str | None
    precision: str
    layouts: Layouts
    files: Mapping[str, str]
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_json(cls, document: object, where: Path) -> ArtifactMetadata:
        """Check a parsed `metadata.json` against the schema.

        Args:
            document: what `json.loads` gave.
            where: the metadata file, named in errors.

        Raises:
            ArtifactError: `<where>: <field>: <problem>`, one line, for the first problem found.
        """
        check = _Checker(where)
        check.that(isinstance(document, dict), "", "expected a JSON object", document)
        schema = document.get("schema")
        check.that(schema == SCHEMA, "schema", f"unknown schema (expected {SCHEMA!r})", schema)
        version = document.get("schema_version")
        check.that(
            _is_int(version) and version == SCHEMA_VERSION,
            "schema_version",
            f"not supported (this app reads version {SCHEMA_VERSION})",
            version,
        )
        name = document.get("name")
        check.that(name is None or _is_text(name), "name", "expected a name", name)
        precision = document.get("precision", "fp32")
        check.that(
            precision in PRECISIONS,
            "precision",
            f"expected one of {', '.join(PRECISIONS)}",
            precision,
        )
        for section in _OBJECT_SECTIONS:
            value = document.get(section, {})
            check.that(isinstance(value, dict), section, "expected a JSON object", value)
        for section in _STRING_LIST_SECTIONS:
            value = document.get(section, [])
            check.that(
                isinstance(value, list) and all(_is_text(item) for item in value),
                section,
                "expected a list of names",
                value,
            )
        size = document.get("input", {})
        for key, expected in (("height", INPUT_HEIGHT), ("width", INPUT_WIDTH)):
            value = size.get(key, expected)
            check.that(
                _is_int(value) and value == expected,
                f"input.{key}",
                f"this app runs models of {INPUT_WIDTH}x{INPUT_HEIGHT} pixels",
                value,
            )
        files = check.files(document.get("files"))
        layouts = check.layouts(document.get("layouts"))
        for layout in layouts.names():
            for relative in layouts.files(layout):
                if relative not in files:
                    raise ArtifactError(
                        f"{where.parent / relative}: the {layout} layout uses it but "
                        f"{where.name} does not list it in `files`, so it cannot be verified"
                    )
        return cls(
            name=name,
            precision=precision,
            layouts=layouts,
            files=MappingProxyType(files),
            schema_version=version,
        )


def metadata_document(
    name: str,
    precision: str,
    *,
    architecture: Mapping[str, Any],
    tools: Mapping[str, str],
    quantizer: str | None = None,
    float_graphs: tuple[str, ...] = (),
    quantized_graphs: list[str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `metadata.json` export writes for both layouts at their default paths.

    `write_metadata` adds the schema, its version and the file hashes.

    Args:
        name: the model's name (the artifact folder's, as exported).
        precision: one of PRECISIONS.
        architecture: the networks' widths (`warp` and `gen`).
        tools: versions of the tools that made it.
        quantizer: the post-training quantizer, for a post-training int8 export.
        float_graphs: GRAPH_ROLES that a post-training int8 export left in float.
        quantized_graphs: for an int8 export, the graphs that came out quantized.
        extra: further sections (provenance, quality, ...), which win over the ones above.
    """
    person, edge = INPUT_SHAPES[PERSON], INPUT_SHAPES[EDGE]
    return {
        "name": name,
        "precision": precision,
        **({"quantizer": quantizer} if quantizer is not None else {}),
        **({"float_graphs": list(float_graphs)} if float_graphs else {}),
        **({"quantized_graphs": quantized_graphs} if quantized_graphs is not None else {}),
        "input": {
            "height": INPUT_HEIGHT,
            "width": INPUT_WIDTH,
            "color": "RGB",
            "person_and_clothes": f"(x / 255 - 0.5) / 0.5, {person}",
            "edge": f"x / 255 binarised at 0.5, {edge}",
        },
        "architecture": dict(architecture),
        "layouts": Layouts().to_json(),
        "tools": dict(tools),
        **(extra or {}),
    }


class _Checker:
    """Raises ArtifactError naming the metadata file and the field at the first failed check."""

    def __init__(self, where: Path):
        self.where = where

    def that(self, condition: bool, key: str, problem: str, value: object) -> None:
        if not condition:
            field_name = f"{key}: " if key else ""
            raise ArtifactError(f"{self.where}: {field_name}{problem}, got {_shown(value)}")

    def path(self, value: object, key: str, suffix: str | None = None) -> str:
        """A safe relative path inside the artifact folder, POSIX separators."""
        self.that(_is_text(value), key, "expected a relative file path", value)
        parts = PurePosixPath(value).parts
        self.that(
            "\\" not in value
            and ":" not in value
            and not value.startswith("/")
            and bool(parts)
            and all(part not in ("", ".", "..") for part in parts)
            and str(PurePosixPath(value)) == value,
            key,
            "expected a plain relative path inside the artifact folder",
            value,
        )
        if suffix is not None:
            self.that(value.endswith(suffix), key, f"expected a {suffix} file", value)
        return value

    def files(self, value: object) -> dict[str, str]:
        self.that(isinstance(value, dict) and bool(value), "files", "expected the file list", value)
        for relative, digest in value.items():
            self.path(relative, f"files[{_shown(relative)}]")
            self.that(
                _is_text(digest) and _SHA256.fullmatch(digest) is not None,
                f"files[{_shown(relative)}]",
                "expected a sha256 (64 lowercase hex digits)",
                digest,
            )
        return dict(value)

    def layouts(self, value: object) -> Layouts:
        self.that(isinstance(value, dict) and bool(value), "layouts", "expected layouts", value)
        unknown = sorted(set(value) - set(LAYOUT_NAMES))
        self.that(not unknown, "layouts", f"expected {' and/or '.join(LAYOUT_NAMES)}", unknown)
        split = None
        if "split" in value:
            graphs = value["split"]
            self.that(
                isinstance(graphs, dict) and set(graphs) == {"features", "levels", "render"},
                "layouts.split",
                "expected features, levels and render",
                graphs,
            )
            levels = graphs["levels"]
            self.that(
                isinstance(levels, list) and len(levels) == LEVELS,
                "layouts.split.levels",
                f"expected a list of {LEVELS} graphs",
                levels,
            )
            split = SplitLayout(
                features=self.path(graphs["features"], "layouts.split.features", ".xml"),
                levels=tuple(
                    self.path(level, f"layouts.split.levels[{i}]", ".xml")
                    for i, level in enumerate(levels)
                ),
                render=self.path(graphs["render"], "layouts.split.render", ".xml"),
            )
        fused = None
        if "fused" in value:
            fused = self.path(value["fused"], "layouts.fused", ".xml")
        return Layouts(split=split, fused=fused)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 1000


def _shown(value: object) -> str:
    """A value as one short phrase for an error message, however big it is."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_int(value):
        digits = len(str(abs(value))) if abs(value) < 10**100 else None
        return str(value) if digits is not None and digits <= 12 else "a number of over 12 digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else f"{value[:57]!r}..."
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        keys = ", ".join(_shown(key) for key in list(value)[:4])
        return f"an object with {keys}{', ...' if len(value) > 4 else ''}" if value else "{}"
    return type(value).__name__


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Artifact:
    """A verified model folder.

    Attributes:
        root: the folder.
        spec: the checked metadata.
        metadata: the whole parsed `metadata.json` (provenance, quality, ... for the tools).
    """

    root: Path
    spec: ArtifactMetadata = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name or self.root.name

    @property
    def precision(self) -> str:
        return self.spec.precision

    @property
    def layouts(self) -> dict[str, Any]:
        """Layout name -> its graphs as in the metadata (split: a dict, fused: one path)."""
        return self.spec.layouts.to_json()

    def path(self, relative: str) -> Path:
        return self.root / relative

    def size_bytes(self) -> int:
        return sum(self.path(name).stat().st_size for name in self.spec.files)

    def split_files(self) -> dict[str, Any]:
        if self.spec.layouts.split is None:
            raise ArtifactError(f"{self.root / METADATA_FILE}: this artifact has no split layout")
        return self.spec.layouts.split.to_json()


def read_metadata(meta_path: Path) -> tuple[ArtifactMetadata, dict[str, Any]]:
    """Parse and check one `metadata.json`: (the checked part, the whole document).

    Raises:
        ArtifactError: missing, too big, unreadable, not JSON (numbers too long, nesting too
            deep) or not what the schema says.
    """
    try:
        info = meta_path.stat()
    except OSError:
        raise ArtifactError(f"{meta_path}: missing (not a model artifact folder)") from None
    if not stat.S_ISREG(info.st_mode):
        raise ArtifactError(f"{meta_path}: not a file")
    if info.st_size > MAX_METADATA_BYTES:
        raise ArtifactError(
            f"{meta_path}: {info.st_size / 2**20:.0f} MiB, too big for model metadata "
            f"(limit {MAX_METADATA_BYTES / 2**20:.0f} MiB)"
        )
    try:
        document = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        # ValueError: invalid JSON, or an integer longer than Python converts (4300 digits).
        reason = " ".join(str(error).split())[:200]
        raise ArtifactError(f"{meta_path}: unreadable metadata ({reason})") from None
    except RecursionError:
        raise ArtifactError(f"{meta_path}: unreadable metadata (nested too deeply)") from None
    return ArtifactMetadata.from_json(document, meta_path), document


def load_artifact(root: str | Path, *, verify_hashes: bool = True) -> Artifact:
    """Read and check an artifact folder.

    The metadata is checked against the schema, every file a layout uses must be listed with its
    sha256, every listed file must exist and, with `verify_hashes`, match its hash.

    Raises:
        ArtifactError: one line naming the file and the problem (missing folder or file, invalid
            JSON, unknown schema or version, a field of the wrong type, an unlisted graph file, a
            hash mismatch).
    """
    root = Path(root)
    if not root.is_dir():
        raise ArtifactError(f"{root}: model folder not found")
    spec, document = read_metadata(root / METADATA_FILE)
    # Missing files first: a deleted file is a clearer diagnosis than a damaged one beside it.
    for relative in spec.files:
        if not (root / relative).is_file():
            raise ArtifactError(f"{root / relative}: missing model file")
    if verify_hashes:
        for relative, expected in spec.files.items():
            if sha256_of(root / relative) != expected:
                raise ArtifactError(
                    f"{root / relative}: damaged model file (sha256 does not match metadata.json)"
                )
    return Artifact(root=root, spec=spec, metadata=document)


def write_metadata(root: Path, metadata: dict[str, Any]) -> None:
    """Write `metadata.json`, hashing every IR file under `root` into its file list.

    Raises:
        ArtifactError: the document would not pass `load_artifact` (e.g. a layout graph that is
            not in the folder), so that no tool writes an artifact the app refuses.
    """
    root = Path(root)
    files = {
        path.relative_to(root).as_posix(): sha256_of(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in {".xml", ".bin", ".onnx"}
    }
    document = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **metadata, "files": files}
    meta_path = root / METADATA_FILE
    ArtifactMetadata.from_json(json.loads(json.dumps(document)), meta_path)
    _write_document(meta_path, document)


def update_metadata_section(root: Path, section: str, values: Mapping[str, Any]) -> None:
    """Merge `values` into one section of `metadata.json` (created if missing), nothing re-hashed.

    For what is learnt about files already hashed, such as how closely they reproduce torch.
    """
    meta_path = Path(root) / METADATA_FILE
    document = json.loads(meta_path.read_text(encoding="utf-8"))
    document.setdefault(section, {}).update(values)
    _write_document(meta_path, document)


def _write_document(meta_path: Path, document: dict[str, Any]) -> None:
    meta_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def model_folders(search_dirs: list[Path]) -> Iterator[tuple[Path, str | None]]:
    """Every folder directly under the given folders, with why it is skipped (None: a candidate).

    A candidate has a `metadata.json` (not yet checked); a search folder that does not exist is
    reported as skipped too.
    """
    for base in search_dirs:
        if not base.is_dir():
            yield base, "no such folder"
            continue
        for folder in sorted(path for path in base.iterdir() if path.is_dir()):
            if (folder / METADATA_FILE).is_file():
                yield folder, None
            else:
                yield folder, f"no {METADATA_FILE}, not a model artifact"


def find_artifacts(search_dirs: list[Path]) -> list[Path]:
    """Every folder with a `metadata.json` directly under the given folders (unverified)."""
    return [folder for folder, skipped in model_folders(search_dirs) if skipped is None]
