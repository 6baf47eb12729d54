"""Scans of an image collection through a model: per channel, what it responds to across all of it, in this
process or on a Ray cluster, saved as Parquet with a manifest, resumable, and the views of a channel's top
images. Ray is imported only by :func:`scan_on_ray`."""

from ._ray import scan_on_ray  # imports ray only when it runs
from ._results import SavedScan, list_scans, open_scan, save, scans_root
from ._scan import Progress, ScanResult, has_checkpoint, scan, scan_key
from ._views import HOW_FOUND, TopImage, receptive_box, top_images

__all__ = [
    "scan",
    "scan_key",
    "Progress",
    "ScanResult",
    "has_checkpoint",
    "save",
    "list_scans",
    "open_scan",
    "scans_root",
    "SavedScan",
    "top_images",
    "receptive_box",
    "TopImage",
    "HOW_FOUND",
    "scan_on_ray",
]
