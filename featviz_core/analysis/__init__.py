"""Numbers about captured layers: per-channel statistics and flags, one summary row per layer, which channels
to show and in what order, what separates a trained layer from an untrained one, receptive fields, and the
model's prediction."""

from ..activations import MIN_NOISE_SIZE, NOISE_THRESHOLD, STAT_COLUMNS, ChannelStats
from ._learned import EXPLANATIONS, channel_redundancy, filter_structure, layer_signs
from ._predict import labels_mismatch, predict
from ._receptive_field import Field, Span, layer_fields
from ._selection import DEFAULT_ACTIVE, PAGE_SIZE, ChannelSelection, order_key, orderings, select_channels
from ._stats import channel_stats, layer_stats, layer_summary, layer_values

__all__ = [
    "channel_stats",
    "layer_values",
    "layer_stats",
    "layer_summary",
    "ChannelStats",
    "STAT_COLUMNS",
    "NOISE_THRESHOLD",
    "MIN_NOISE_SIZE",
    "select_channels",
    "ChannelSelection",
    "orderings",
    "order_key",
    "PAGE_SIZE",
    "DEFAULT_ACTIVE",
    "layer_signs",
    "filter_structure",
    "channel_redundancy",
    "EXPLANATIONS",
    "layer_fields",
    "Field",
    "Span",
    "predict",
    "labels_mismatch",
]
