"""Failures the user can act on: one line that names the file and says what is wrong with it."""

from __future__ import annotations

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


class OutputError(TryOnError):
    """A result that cannot be written where the user asked."""
