"""Every setting a featviz deployment can change, in one place: its variable, default, unit and meaning.

Each setting is an environment variable, parsed once, the first time anything asks (:func:`current`);
:func:`reload` reads the environment again (tests, or a notebook that changed ``os.environ``). A value that
cannot be used (not a number, not finite, not positive, a fraction where a count is meant, a name that is not
one of the setting's choices) is reported in one warning line in the log and the default is used.

``python -m featviz_core settings`` prints the table with the values in force; the table in
``docs/limits-and-safety.md`` is this table (``tests/test_settings.py`` holds them together).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

MB = 2**20
_LOG = logging.getLogger("featviz")
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def _setting(variable: str, default: Any, unit: str, meaning: str, choices: tuple[str, ...] = ()) -> Any:
    """A field carrying what the table and :func:`_parse` need; ``choices``, where given, are the only values used."""
    return field(default=default,
                 metadata={"variable": variable, "unit": unit, "meaning": meaning, "choices": choices})


def _scaled(name: str, unit: int) -> property:
    """A read-only view of field ``name`` in base units (bytes, pixels), as an int."""
    return property(lambda self: int(getattr(self, name) * unit), doc=f"``{name}`` × {unit:,}, as an int")


@dataclass(frozen=True)
class Settings:
    """The values in force. Sizes are in the unit their variable names; the ``*_bytes`` properties convert."""

    # What people may upload
    max_image_mb: float = _setting("FEATVIZ_MAX_IMAGE_MB", 50.0, "MB", "largest image file accepted")
    max_image_megapixels: float = _setting(
        "FEATVIZ_MAX_IMAGE_MEGAPIXELS", 40.0, "megapixels",
        "largest image accepted, width × height, read from the header before decoding (decompression bombs are "
        "refused)")
    max_weights_mb: float = _setting(
        "FEATVIZ_MAX_WEIGHTS_MB", 600.0, "MB",
        "largest weights, TorchScript, ONNX or Keras file accepted (vgg19_bn's checkpoint is 548 MB)")
    allow_torchscript: bool = _setting(
        "FEATVIZ_ALLOW_TORCHSCRIPT", True, "on/off",
        "accept TorchScript uploads, which are programs that run on the server: turn off where users do not trust "
        "each other")

    # What the server's owner offers everyone
    models_file: str = _setting(
        "FEATVIZ_MODELS_FILE", "", "path",
        "a TOML file listing the team's own models (import path, weights, preprocessing, class names): they "
        "appear in everyone's Model list")

    # Dataset scans (the Dataset page and python -m featviz_core scan)
    data_roots: str = _setting(
        "FEATVIZ_DATA_ROOTS", "", "paths",
        "folders (separated by the OS path separator) whose images the Dataset page may scan; none: only "
        "uploaded zips and the bundled sets")
    max_dataset_zip_mb: float = _setting("FEATVIZ_MAX_DATASET_ZIP_MB", 500.0, "MB",
                                         "largest zip of images the Dataset page accepts")
    scan_dir: str = _setting("FEATVIZ_SCAN_DIR", "~/.cache/featviz/scans", "path",
                             "where scan results (Parquet and a manifest per scan) are kept and listed")
    scan_engine: str = _setting(
        "FEATVIZ_SCAN_ENGINE", "in-process", "name",
        "how the Dataset page runs scans: in-process, or ray (optional install) on FEATVIZ_RAY_ADDRESS",
        choices=("in-process", "ray"))
    ray_address: str = _setting("FEATVIZ_RAY_ADDRESS", "", "address",
                                "the Ray cluster for scans (ray://host:10001 or auto); none: a local Ray")

    # What the server keeps in memory for all sessions
    activation_cache_mb: float = _setting("FEATVIZ_ACTIVATION_CACHE_MB", 1024.0, "MB",
                                          "captures kept for all sessions (float16), least recently used evicted")
    capture_ram_mb: float = _setting(
        "FEATVIZ_CAPTURE_RAM_MB", 256.0, "MB",
        "most of one cached capture held in memory, exact until a layer is read, then float16: further layers are "
        "only noted as they are captured, run again when read, and kept in FEATVIZ_SPILL_DIR")
    spill_dir: str = _setting("FEATVIZ_SPILL_DIR", "", "path",
                              "where layers beyond FEATVIZ_CAPTURE_RAM_MB go (unnamed files, gone when the capture "
                              "leaves the cache or the server stops); none: the system's temporary folder")
    spill_mb: float = _setting("FEATVIZ_SPILL_MB", 8192.0, "MB",
                               "disk the cached captures' spilled layers may take, least recently used evicted")
    figure_cache_mb: float = _setting(
        "FEATVIZ_FIGURE_CACHE_MB", 16.0, "MB",
        "built grid figures kept for all sessions, counted as the memory a figure really holds (one rebuilds in "
        "15–35 ms)")
    max_preprocess_mb: float = _setting("FEATVIZ_MAX_PREPROCESS_MB", 256.0, "MB",
                                        "memory one image's preprocessing may take (long thin images needing more "
                                        "are refused before it runs)")
    model_cache_entries: int = _setting(
        "FEATVIZ_MODEL_CACHE_ENTRIES", 4, "models",
        "bundled and zoo models kept loaded for all sessions (uploaded ones live in their session)")

    # What people may download
    npz_warn_mb: float = _setting("FEATVIZ_NPZ_WARN_MB", 200.0, "MB",
                                  "an all-layers .npz download above this size is announced as large")
    npz_max_mb: float = _setting("FEATVIZ_NPZ_MAX_MB", 1024.0, "MB",
                                 "an all-layers .npz download above this size is refused")

    # How the dashboard's server process manages memory
    tune_allocator: bool = _setting(
        "FEATVIZ_TUNE_ALLOCATOR", True, "on/off",
        "the dashboard server keeps freed memory for the next capture (glibc only; see featviz_ui/server.py)")
    warm_start: bool = _setting(
        "FEATVIZ_WARM_START", True, "on/off",
        "the dashboard server loads, captures and draws the default example as it starts (featviz_ui/warm.py)")

    max_image_bytes = _scaled("max_image_mb", MB)
    max_image_pixels = _scaled("max_image_megapixels", 1_000_000)
    max_weights_bytes = _scaled("max_weights_mb", MB)
    max_preprocess_bytes = _scaled("max_preprocess_mb", MB)
    activation_cache_bytes = _scaled("activation_cache_mb", MB)
    figure_cache_bytes = _scaled("figure_cache_mb", MB)
    capture_ram_bytes = _scaled("capture_ram_mb", MB)
    spill_bytes = _scaled("spill_mb", MB)
    npz_warn_bytes = _scaled("npz_warn_mb", MB)
    npz_max_bytes = _scaled("npz_max_mb", MB)
    max_dataset_zip_bytes = _scaled("max_dataset_zip_mb", MB)

    @property
    def largest_upload_mb(self) -> float:
        """What Streamlit's ``server.maxUploadSize`` must allow for every featviz upload limit to hold."""
        return max(self.max_image_mb, self.max_weights_mb, self.max_dataset_zip_mb)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values = {}
        for spec in dataclasses.fields(cls):
            raw = environ.get(spec.metadata["variable"])
            if raw is not None:
                values[spec.name] = _parse(spec, raw)
        return cls(**values)


@dataclass(frozen=True)
class SettingInfo:
    """One row of the settings table."""

    variable: str
    default: str
    meaning: str


def table() -> list[SettingInfo]:
    """Every setting with its default written out, in the order of :class:`Settings`."""
    return [
        SettingInfo(
            spec.metadata["variable"], format_value(spec.default, spec.metadata["unit"]), spec.metadata["meaning"]
        )
        for spec in dataclasses.fields(Settings)
    ]


def format_value(value: Any, unit: str) -> str:
    """``50 MB``, ``1 GB``, ``on``: how a value reads in the docs and on the page."""
    if unit == "on/off":
        return "on" if value else "off"
    if isinstance(value, str):
        return f"`{value}`" if value else "none"
    if unit == "MB" and value >= 1024 and value % 1024 == 0:
        return f"{value / 1024:g} GB"
    return f"{value:g} {unit}"


@cache
def current() -> Settings:
    """The settings in force, read from the environment once."""
    return Settings.from_environ()


def reload() -> Settings:
    """Read the environment again; what every later :func:`current` returns."""
    current.cache_clear()
    return current()


def _parse(spec: dataclasses.Field, raw: str) -> Any:
    """The value ``raw`` stands for, or the default with one warning: a value the server cannot use never gets in."""
    meta, default = spec.metadata, spec.default
    variable, unit, choices = meta["variable"], meta["unit"], meta["choices"]
    text = raw.strip().lower()
    if choices:  # compared case-insensitively; the canonical spelling is what the code compares against
        for choice in choices:
            if text == choice.lower():
                return choice
        expected = "one of " + ", ".join(choices)
    elif isinstance(default, str):
        return raw.strip()
    elif isinstance(default, bool):
        if text in _ON or text in _OFF:
            return text in _ON
        expected = "one of " + ", ".join(_ON + _OFF)
    else:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        whole = isinstance(default, int)
        # inf would overflow int() or every *_bytes property; a fraction of a count is not what was meant
        if math.isfinite(value) and value > 0 and (value.is_integer() or not whole):
            return int(value) if whole else value
        expected = f"a {'whole' if whole else 'finite'} number of {unit} above 0"
    used = default if isinstance(default, str) else format_value(default, unit)  # a log line, not Markdown
    _LOG.warning("featviz: %s=%r is not %s; using %s.", variable, raw, expected, used)
    return default
