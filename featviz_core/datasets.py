"""Image collections to scan: a folder on the server, an uploaded zip, or a set that ships with featviz.

A :class:`Dataset` is a list of named items whose bytes are read only when scanned, so a collection of any
size costs memory for its names alone. Where the layout gives classes (an ``ImageFolder`` tree, one
sub-folder per class, or the same inside a zip) each item has its label. Items are decoded by the scan with
:func:`featviz_core.images.load_image`; one that cannot be read is skipped and listed, never fatal.

Folders are read only under the roots the server's owner configured (``FEATVIZ_DATA_ROOTS``); the
dashboard never opens a path a user typed.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from . import settings
from .errors import ImageError
from .images import UPLOAD_EXTENSIONS
from .samples import list_samples, sample_bytes

IMAGE_SUFFIXES = tuple(f".{extension}" for extension in UPLOAD_EXTENSIONS)
DIGITS = "Held-out MNIST digits (1,000, bundled)"
SAMPLES = "Bundled photos and patterns"
BUNDLED = (DIGITS, SAMPLES)


@dataclass(frozen=True)
class DatasetItem:
    """One image of a collection: its place, its name, its class (index into the dataset's classes, or -1),
    and how to read its bytes."""

    index: int
    name: str
    label: int
    read: Callable[[], bytes] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Dataset:
    """A collection: a name, a fingerprint of exactly what is in it, its classes (empty when unlabelled)."""

    name: str
    items: Sequence[DatasetItem]
    classes: tuple[str, ...] = ()
    fingerprint: str = ""
    source: dict[str, str] = field(default_factory=dict)
    """Where it came from (kind: bundled, folder or zip, and its name or path): to find it again later."""

    def __len__(self) -> int:
        return len(self.items)


def bundled(name: str) -> Dataset:
    """One of the sets that ship with featviz: the held-out MNIST digits (for the digits CNN), or the sample
    photos and patterns (for zoo models)."""
    if name == DIGITS:
        return _mnist_held_out()
    if name == SAMPLES:
        names = [sample for sample in list_samples() if not sample.startswith("Handwritten")]
        items = [DatasetItem(i, sample, -1, _sample_reader(sample)) for i, sample in enumerate(names)]
        return Dataset(SAMPLES, items, (), _digest("\n".join(names).encode()), {"kind": "bundled", "name": SAMPLES})
    raise ValueError(f"No bundled set named {name!r}; there are: {', '.join(BUNDLED)}.")


def _sample_reader(name: str) -> Callable[[], bytes]:
    return lambda: sample_bytes(name)


def _mnist_held_out() -> Dataset:
    """The 1,000 MNIST digits the digits CNN was not trained on (``featviz_core.models.train_digits``), as PNG bytes."""
    with resources.files(__package__).joinpath("samples", "mnist_held_out.npz").open("rb") as file:
        raw = file.read()
    archive = np.load(io.BytesIO(raw))
    images, labels, indices = archive["images"], archive["labels"], archive["indices"]

    def reader(i: int) -> Callable[[], bytes]:
        def read() -> bytes:
            buffer = io.BytesIO()
            Image.fromarray(images[i], mode="L").save(buffer, format="PNG")
            return buffer.getvalue()
        return read

    items = [DatasetItem(i, f"mnist-{int(indices[i])}.png", int(labels[i]), reader(i)) for i in range(len(images))]
    return Dataset(DIGITS, items, tuple(str(d) for d in range(10)), _digest(raw), {"kind": "bundled", "name": DIGITS})


def data_roots() -> list[Path]:
    """The folders the server's owner allows scans under (``FEATVIZ_DATA_ROOTS``, separated by ``os.pathsep``)."""
    text = settings.current().data_roots
    return [Path(part).expanduser().resolve() for part in text.split(os.pathsep) if part.strip()]


def allowed_folders(roots: Optional[Sequence[Path]] = None) -> list[Path]:
    """Each root and its direct sub-folders: what the dashboard offers to scan."""
    found = []
    for root in roots if roots is not None else data_roots():
        if root.is_dir():
            found.append(root)
            found.extend(sorted(child for child in root.iterdir() if child.is_dir() and not child.name.startswith(".")))
    return found


def folder(path: Path, roots: Optional[Sequence[Path]] = None) -> Dataset:
    """Every image under ``path`` (recursively, in name order). ``roots``: where the dashboard may read (the
    configured roots); None from the command line, where whoever types the path owns the machine."""
    path = Path(path).expanduser().resolve()
    if roots is not None and not any(path == root or root in path.parents for root in roots):
        raise ImageError(f"{path} is not under a folder this server allows scans of (FEATVIZ_DATA_ROOTS).")
    if not path.is_dir():
        raise ImageError(f"{path} is not a folder.")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    relative = [p.relative_to(path) for p in files]
    classes, labels = _classes([r.parts for r in relative])
    pairs = list(zip(files, relative, strict=True))
    items = [DatasetItem(i, str(r), labels[i], _file_reader(p)) for i, (p, r) in enumerate(pairs)]
    stamp = "\n".join(f"{r}\t{p.stat().st_size}\t{p.stat().st_mtime_ns}" for p, r in pairs)
    return Dataset(path.name, items, classes, _digest(stamp.encode()), {"kind": "folder", "path": str(path)})


def _file_reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def zip_archive(data: bytes, name: str) -> Dataset:
    """Every image in an uploaded zip (read one entry at a time when scanned), under the upload size limit."""
    limit = settings.current().max_dataset_zip_bytes
    if len(data) > limit:
        raise ImageError(f"{name} is {len(data) / 2**20:.0f} MB; this server takes zips of up to "
                         f"{limit / 2**20:.0f} MB (FEATVIZ_MAX_DATASET_ZIP_MB). Put larger collections in a folder "
                         "the server's owner shares.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ImageError(f"{name} is not a zip archive (or it is damaged): zip a folder of images.") from None
    entries = sorted(info.filename for info in archive.infolist() if not info.is_dir()
                     and info.filename.lower().endswith(IMAGE_SUFFIXES)
                     and not any(part.startswith((".", "__MACOSX")) for part in info.filename.split("/")))
    if not entries:
        raise ImageError(f"{name} holds no images ({', '.join(UPLOAD_EXTENSIONS)}).")
    classes, labels = _classes([entry.split("/") for entry in _common_stripped(entries)])
    items = [DatasetItem(i, entry, labels[i], _zip_reader(archive, entry)) for i, entry in enumerate(entries)]
    return Dataset(Path(name).stem, items, classes, _digest(data), {"kind": "zip", "name": name})


def _zip_reader(archive: zipfile.ZipFile, entry: str) -> Callable[[], bytes]:
    return lambda: archive.read(entry)


def _common_stripped(entries: list[str]) -> list[str]:
    """Entries without the one folder every entry is in (a zipped folder ``pets/cat/1.jpg``)."""
    tops = {entry.split("/", 1)[0] for entry in entries}
    if len(tops) == 1 and all("/" in entry for entry in entries):
        return [entry.split("/", 1)[1] for entry in entries]
    return entries


def _classes(parts: list[tuple[str, ...]]) -> tuple[tuple[str, ...], list[int]]:
    """ImageFolder's rule: when every image is in a sub-folder, the first sub-folder is its class."""
    if not parts or any(len(p) < 2 for p in parts):
        return (), [-1] * len(parts)
    classes = tuple(sorted({p[0] for p in parts}))
    index = {name: i for i, name in enumerate(classes)}
    return classes, [index[p[0]] for p in parts]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def reopen(source: dict[str, str], roots: Optional[Sequence[Path]] = None,
           zips: Optional[dict[str, bytes]] = None) -> Optional[Dataset]:
    """The collection a saved scan ran on, to show its images again; None when it cannot be had here (an
    uploaded zip from another session, a folder that moved or is outside ``roots``)."""
    try:
        if source.get("kind") == "bundled":
            return bundled(source["name"])
        if source.get("kind") == "folder":
            return folder(Path(source["path"]), roots)
        if source.get("kind") == "zip" and zips and source.get("name") in zips:
            return zip_archive(zips[source["name"]], source["name"])
    except (ImageError, OSError, ValueError, KeyError):
        return None
    return None
