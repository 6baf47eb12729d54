"""Exceptions that carry a message fit to show a user as it is, and the library's own text apart from it."""

from __future__ import annotations

import re
from typing import Optional, Union

_TERMINAL_CODES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
"""ANSI escape sequences (bold, colours) that torch and others put into their messages for a terminal."""


class FeatvizError(Exception):
    """Base class: every message is written for the person using the tool, not for a stack trace.

    The message says what happened and what to do. What a library said about it (Pillow's decoder error,
    torch's unpickling text) is kept apart in ``detail``, plain text, for whoever wants it: the dashboard
    shows it under *Details*, and a traceback shows it as a note.

    Example::

        >>> import featviz_core as fv
        >>> try:
        ...     fv.load_image(b"not an image")
        ... except fv.FeatvizError as error:     # every featviz failure, with a message for a person
        ...     print(type(error).__name__)
        ImageError
    """

    def __init__(self, message: str = "", *args: object, detail: Union[str, BaseException, None] = None) -> None:
        super().__init__(message, *args)
        self.detail: Optional[str] = library_text(detail) if detail is not None else None
        if self.detail:
            self.add_note(f"Details: {self.detail}")


class ImageError(FeatvizError, ValueError):
    """The input could not be turned into an image (corrupt, unsupported, too large, not an image).

    Example::

        >>> import featviz_core as fv
        >>> fv.load_image(b"GIF89a broken")
        Traceback (most recent call last):
        ...
        featviz_core.errors.ImageError: ...
    """


class ModelError(FeatvizError):
    """A model could not be built, loaded or run on the given input.

    Example::

        >>> import featviz_core as fv
        >>> fv.load_model("no_such_model")
        Traceback (most recent call last):
        ...
        featviz_core.errors.ModelError: ...
    """


class WeightsUnavailableError(ModelError):
    """Pretrained weights are neither in the local cache nor downloadable.

    Carries what a user needs to fix it by hand: the exact file name, the folder it belongs in, and the
    address it comes from.

    Example::

        >>> import featviz_core as fv
        >>> try:
        ...     fv.load_model("resnet18", download=False)    # not cached on this machine
        ... except fv.WeightsUnavailableError as error:
        ...     print(error.filename)
        resnet18-f37072fd.pth
    """

    def __init__(self, model: str, weights: str, filename: str, folder: str, url: str, reason: str,
                 detail: Union[str, BaseException, None] = None, how_to_get: Optional[str] = None) -> None:
        self.model = model
        self.weights = weights
        self.filename = filename
        self.folder = folder
        self.url = url
        self.reason = reason
        get = how_to_get or f"put the file {filename} into {folder} (it comes from {url})"
        super().__init__(
            f"The pretrained weights {weights} for {model} are not on this machine and could not be "
            f"downloaded ({reason}). To use them, {get}; or continue with untrained weights.",
            detail=detail,
        )


class LayerError(FeatvizError, KeyError):
    """A layer name that the captured model does not have.

    Example::

        >>> import featviz_core as fv
        >>> maps = fv.capture(fv.load_model("digits_cnn"), fv.load_sample())
        >>> maps["conv9"]
        Traceback (most recent call last):
        ...
        featviz_core.errors.LayerError: ...
    """

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


def library_text(source: Union[str, BaseException]) -> str:
    """What a library said, as plain text for a *Details* box: an exception's type and message, without the
    terminal's escape codes (torch writes some in bold)."""
    if isinstance(source, BaseException):
        message = str(source).strip()
        source = f"{type(source).__name__}: {message}" if message else type(source).__name__
    return _TERMINAL_CODES.sub("", source).strip()

