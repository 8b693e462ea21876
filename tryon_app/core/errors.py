"""Failures the user can act on: one line that names the file and says what is wrong with it."""

from __future__ import annotations

import re
from os import PathLike


class TryOnError(Exception):
    """A failure to show the user as is: the CLI prints `tryon: <message>`, the GUI a dialog.

    The message is always a single line (any newline or run of spaces in it is collapsed), in the
    form `<file>: <problem>`, e.g. `person.jpg: not an image (cannot identify the format)`.

    Attributes:
        path: the file or folder the message is about, when there is one.
    """

    def __init__(self, message: str, *, path: str | PathLike[str] | None = None):
        super().__init__(" ".join(str(message).split()))
        self.path = path

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InputImageError(TryOnError):
    """A photo, mask or list of inputs that cannot be read or used."""


class ArtifactError(TryOnError):
    """A model folder that is missing, incomplete, altered or of an unknown schema."""


class VideoError(TryOnError):
    """A camera that cannot be opened, or a video file that cannot be read."""


class OutputError(TryOnError):
    """A result that cannot be written where the user asked."""


# Lines of an OpenVINO exception that say where in OpenVINO's sources it was raised, not what is
# wrong: "Exception from src/inference/src/cpp/core.cpp:84:" and "Check 'cond' failed at f.cpp:9:".
_OPENVINO_WHERE = re.compile(r"(Exception from \S+:\d+:|Check '.*' failed at \S+:\d+:?)")
_OPENVINO_UNREADABLE = re.compile(r'Unable to read the model: ".*?"')


def openvino_reason(error: BaseException) -> str:
    """What an OpenVINO exception says is wrong, in one short line.

    OpenVINO's messages start with the source locations they passed through ("Exception from
    src/inference/src/cpp/core.cpp:84:"), which tell a user nothing; the reason comes after, e.g.
    "Incorrect weights in bin file" or "Error parsing start element tag at offset 189247".
    """
    reasons = []
    for line in str(error).splitlines():
        line = _OPENVINO_WHERE.sub("", line).strip()
        line = _OPENVINO_UNREADABLE.sub("no OpenVINO frontend can read it.", line)
        if line:
            reasons.append(line.rstrip("!.: "))
    text = "; ".join(reasons)
    if len(text) > 200:
        text = text[:197] + "..."
    return text or type(error).__name__
