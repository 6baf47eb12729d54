"""What a capture hands to every other room: one layer's output, all of an image's layers, what their axes
mean, and the statistics measured from their exact values.

Nothing here runs a model. The code that makes these records (:mod:`featviz_core.capturing`) and the code that
reads them (drawing, statistics, exports, scans) depend on this room, never on each other for them.
"""

from ._records import (
    MIN_NOISE_SIZE,
    NOISE_THRESHOLD,
    STAT_COLUMNS,
    Capture,
    ChannelStats,
    FeatureMap,
    LayerStats,
    LayerValues,
)
from ._shapes import ChannelView, channel_view, view_of
from ._spill import SpillFile
from ._token_layouts import Windows

__all__ = [
    "FeatureMap",
    "Capture",
    "ChannelView",
    "channel_view",
    "view_of",
    "Windows",
    "SpillFile",
    "ChannelStats",
    "LayerStats",
    "LayerValues",
    "STAT_COLUMNS",
    "NOISE_THRESHOLD",
    "MIN_NOISE_SIZE",
]
