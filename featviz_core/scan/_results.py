"""Scan results on disk: Parquet tables and a JSON manifest per scan, reopened without rerunning anything.

A scan's folder (under ``FEATVIZ_SCAN_DIR``, named by its key) holds:

* ``manifest.json``: model, weights digest, layers and their shapes, preprocessing, dataset and its
  fingerprint, engine, date, speed;
* ``channels.parquet``: per layer and channel, mean, maximum, share of positions active, never active, and
  the histogram of per-image maxima (edges in the manifest);
* ``top.parquet``: per layer and channel, the top-k images by maximum, with where the maximum is;
* ``classes.parquet``: per layer, channel and class, the mean activation (when the collection has classes);
* ``images.parquet`` (index, name, class) and ``skipped.parquet`` (name, why).

Parquet is an open columnar format: pandas, polars, DuckDB or Spark read these files as they are.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from .. import settings
from ._scan import ScanResult

MANIFEST = "manifest.json"


def scans_root() -> Path:
    return Path(settings.current().scan_dir).expanduser()


def save(result: ScanResult, root: Optional[Path] = None) -> Path:
    """Write ``result`` into its folder under ``root`` (default: ``FEATVIZ_SCAN_DIR``); returns the folder."""
    folder = (root or scans_root()) / result.manifest["key"]
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    pq.write_table(_channels(result), partial / "channels.parquet")
    pq.write_table(_top(result), partial / "top.parquet")
    pq.write_table(_classes(result), partial / "classes.parquet")
    pq.write_table(pa.table({"image": result.indices, "name": result.names, "class": result.labels}),
                   partial / "images.parquet")
    pq.write_table(pa.table({"name": [n for n, _ in result.skipped], "why": [w for _, w in result.skipped]},
                            schema=pa.schema([("name", pa.string()), ("why", pa.string())])),
                   partial / "skipped.parquet")
    (partial / MANIFEST).write_text(json.dumps({**result.manifest, "complete": result.complete}, indent=1) + "\n")
    for name in ("checkpoint.npz", "checkpoint.json"):  # an unfinished scan's checkpoint stays with it
        if (folder / name).exists() and not result.complete:
            shutil.copy2(folder / name, partial / name)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def _channels(result: ScanResult) -> pa.Table:
    columns: dict[str, list] = {k: [] for k in ("layer", "channel", "mean", "max", "active_fraction",
                                                "never_active", "histogram")}
    for layer, tally in result.tallies.items():
        columns["layer"] += [layer] * tally.channels
        columns["channel"] += list(range(tally.channels))
        columns["mean"] += tally.mean.tolist()
        columns["max"] += tally.maximum.astype(float).tolist()
        columns["active_fraction"] += tally.active_fraction.tolist()
        columns["never_active"] += tally.never_active.tolist()
        columns["histogram"] += tally.histogram.tolist()
    return pa.table(columns)


def _top(result: ScanResult) -> pa.Table:
    columns: dict[str, list] = {k: [] for k in ("layer", "channel", "rank", "image", "name", "value", "y", "x")}
    names = dict(zip(result.indices, result.names, strict=True))
    for layer, tally in result.tallies.items():
        width = _map_width(result.manifest["shapes"].get(layer, []))
        for channel in range(tally.channels):
            for rank in range(tally.top_k):
                image = int(tally.top_image[channel, rank])
                if image < 0:
                    continue
                position = int(tally.top_position[channel, rank])
                columns["layer"].append(layer)
                columns["channel"].append(channel)
                columns["rank"].append(rank)
                columns["image"].append(image)
                columns["name"].append(names[image])
                columns["value"].append(float(tally.top_value[channel, rank]))
                columns["y"].append(position // width)
                columns["x"].append(position % width)
    return pa.table(columns, schema=pa.schema([
        ("layer", pa.string()), ("channel", pa.int32()), ("rank", pa.int32()), ("image", pa.int64()),
        ("name", pa.string()), ("value", pa.float32()), ("y", pa.int32()), ("x", pa.int32())]))


def _map_width(shape: list[int]) -> int:
    """Columns of a layer's map (C, H, W); 1 for a vector, whose position is its only column."""
    return int(shape[-1]) if len(shape) >= 3 else 1


def _classes(result: ScanResult) -> pa.Table:
    columns: dict[str, list] = {k: [] for k in ("layer", "channel", "class", "mean", "images")}
    for layer, tally in result.tallies.items():
        means = tally.class_mean
        for label, name in enumerate(result.classes):
            columns["layer"] += [layer] * tally.channels
            columns["channel"] += list(range(tally.channels))
            columns["class"] += [name] * tally.channels
            columns["mean"] += means[label].tolist()
            columns["images"] += [int(tally.class_count[label])] * tally.channels
    return pa.table(columns, schema=pa.schema([
        ("layer", pa.string()), ("channel", pa.int32()), ("class", pa.string()), ("mean", pa.float64()),
        ("images", pa.int64())]))


@dataclass(frozen=True)
class SavedScan:
    """A scan on disk: its folder and manifest; its tables are read when asked for."""

    folder: Path
    manifest: dict[str, Any]

    def table(self, name: str, layer: Optional[str] = None):
        """One of the scan's tables as a pandas DataFrame (only ``layer``'s rows when given)."""
        filters = [("layer", "=", layer)] if layer is not None and name != "images" and name != "skipped" else None
        return pq.read_table(self.folder / f"{name}.parquet", filters=filters).to_pandas()

    @property
    def title(self) -> str:
        m = self.manifest
        return (f"{m['model_label']} · {m['dataset']} ({m['images']:,} images) · {', '.join(m['layers'])} · "
                f"{m['date'][:16].replace('T', ' ')}{'' if m.get('complete', True) else ' · stopped'}")


def open_scan(folder: Path) -> SavedScan:
    return SavedScan(folder, json.loads((folder / MANIFEST).read_text()))


def list_scans(root: Optional[Path] = None) -> list[SavedScan]:
    """Every saved scan under ``root``, newest first (folders without a readable manifest are left out)."""
    found = []
    base = root or scans_root()
    if not base.is_dir():
        return []
    for folder in base.iterdir():
        try:
            found.append(open_scan(folder))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda saved: saved.manifest.get("date", ""), reverse=True)
