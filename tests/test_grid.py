"""channel_grid(): one mosaic whose pixels, hover values and labels match the tensor it was given."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.io as pio
import pytest
import torch
from PIL import Image

import featviz_core as fv
from featviz_core.colormaps import LEVELS, lookup_table
from featviz_core.grid import DISPLAY_WIDTH, HOVER_MAX_CELLS, NAN_RGB, mosaic_layout
from featviz_core.normalize import NORMALIZATIONS, normalize


def _png(figure) -> np.ndarray:
    source = figure.data[0].source
    assert source.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
    return np.asarray(image.convert("RGBA"))


def test_grid_is_one_image_trace_not_a_subplot_per_channel():
    figure = fv.channel_grid(torch.randn(512, 28, 28))
    assert [trace.type for trace in figure.data] == ["image", "heatmap", "scatter", "scatter"]
    assert len(figure.layout.annotations) == 0
    meta = figure.layout.meta["featviz"]
    assert meta["channels_total"] == meta["channels_shown"] == 512


def test_mosaic_pixels_are_the_colour_mapped_channels():
    torch.manual_seed(0)
    maps = torch.randn(10, 6, 5)
    figure = fv.channel_grid(maps, normalize="per_layer", colormap="magma")
    rgba = _png(figure)
    layout = mosaic_layout(10, 6, 5, DISPLAY_WIDTH)
    assert rgba.shape[:2] == (layout.mosaic_height, layout.mosaic_width)
    normalized = normalize(maps, "per_layer").values
    table = lookup_table("magma")
    for channel in (0, 7, 9):
        top, left = layout.tile_origin(channel)
        tile = rgba[top : top + 6, left : left + 5]
        expected = table[np.rint(normalized[channel] * (LEVELS - 1)).astype(int)]
        assert np.array_equal(tile[..., :3], expected) and (tile[..., 3] == 255).all()
    assert rgba[0, 0, 3] == 0  # label strip / gaps are transparent


def test_hover_carries_raw_values_and_channel_positions():
    maps = torch.arange(4 * 3 * 3, dtype=torch.float32).reshape(4, 3, 3)
    hover = fv.channel_grid(maps).data[1]
    z = np.asarray(hover.z)
    custom = np.asarray(hover.customdata)
    finite = ~np.isnan(z)
    assert finite.sum() == maps.numel()
    for value, (channel, y, x) in zip(z[finite], custom[finite], strict=False):
        assert maps[channel, y, x] == value
    assert "channel %{customdata[0]}" in hover.hovertemplate and hover.opacity == 0


def test_hover_is_pooled_for_large_layers_and_says_so():
    hover = fv.channel_grid(torch.rand(256, 56, 56)).data[1]
    cells = np.asarray(hover.z).size
    assert cells <= HOVER_MAX_CELLS * 1.2
    assert "mean of" in hover.hovertemplate


def test_every_channel_is_labelled_even_at_2048():
    figure = fv.channel_grid(torch.rand(2048, 7, 7))
    labels = figure.data[2]
    assert list(labels.text) == [str(i) for i in range(2048)]


def test_order_selects_and_orders_channels():
    maps = torch.stack([torch.full((4, 4), float(i)) for i in range(6)])
    figure = fv.channel_grid(maps, order=[5, 0, 3], normalize="per_layer")
    assert list(figure.data[2].text) == ["5", "0", "3"]
    custom = np.asarray(figure.data[1].customdata)[..., 0]
    z = np.asarray(figure.data[1].z)
    assert set(custom[~np.isnan(z)].tolist()) == {5, 0, 3}
    assert figure.layout.meta["featviz"]["channels_shown"] == 3
    with pytest.raises(ValueError):
        fv.channel_grid(maps, order=[6])


@pytest.mark.parametrize("mode", list(NORMALIZATIONS))
def test_colour_bar_states_the_scale(mode):
    maps = torch.linspace(-3, 5, 2 * 4 * 4).reshape(2, 4, 4)
    marker = fv.channel_grid(maps, normalize=mode).data[3].marker
    assert marker.showscale
    if mode == "per_channel":
        assert (marker.cmin, marker.cmax) == (0.0, 1.0)
    elif mode == "symmetric":
        assert (marker.cmin, marker.cmax) == (-5.0, 5.0)
    elif mode in ("per_layer", "raw"):
        assert (marker.cmin, marker.cmax) == (-3.0, 5.0)


@pytest.mark.parametrize("shape", [(1000,), (197, 768), (56, 56, 96), (3, 4, 8, 8), (1, 1, 1), (7, 300)])
def test_odd_shapes_draw_without_error(shape):
    figure = fv.channel_grid(torch.randn(shape))
    assert figure.data[0].source.startswith("data:image/png")
    pio.to_json(figure, validate=False)  # what Streamlit sends must serialize


def test_non_finite_values_are_drawn_in_their_own_colour():
    maps = torch.zeros(1, 2, 2)
    maps[0, 0, 0] = float("nan")
    maps[0, 1, 1] = 1.0
    rgba = _png(fv.channel_grid(maps))
    layout = mosaic_layout(1, 2, 2, DISPLAY_WIDTH)
    top, left = layout.tile_origin(0)
    assert tuple(rgba[top, left, :3]) == NAN_RGB


def test_title_names_layer_and_counts_channels():
    model = fv.load_model("resnet18", weights=None)
    maps = fv.capture(model, fv.load_sample("Circles"))
    figure = fv.channel_grid(maps["layer2.0.conv1"], subtitle=model.label)
    assert "layer2.0.conv1 · Conv2d · all 128 channels of 28×28" in figure.layout.title.text
    assert "UNTRAINED" in figure.layout.title.text
