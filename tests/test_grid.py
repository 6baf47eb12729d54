"""channel_grid(): one mosaic whose pixels, hover values and labels match the tensor it was given, readable
at every channel count (tile and label sizes, presentation text, colours that stand out), and single values
drawn as bars."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import plotly.io as pio
import pytest
import torch
from PIL import Image

import featviz_core as fv
from featviz_core.draw._colormaps import (
    COLORMAPS,
    LEVELS,
    MIN_SURROUND_CONTRAST,
    contrast_ratio,
    key_colours,
    label_colour,
    lookup_table,
    surround,
)
from featviz_core.draw._grid import (
    DISPLAY_WIDTH,
    HOVER_MAX_CELLS,
    LARGE_LABEL_FONT_PX,
    MIN_TILE_PX,
    NAN_RGB,
    PRESENTATION_WIDTH,
    label_width,
    mosaic_layout,
)
from featviz_core.draw._normalize import NORMALIZATIONS, normalize


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
    grey = surround("magma")
    assert (rgba[..., 3] == 255).all()  # nothing transparent: tiles sit on their surround grey, not the page
    top, left = layout.tile_origin(0)
    assert tuple(rgba[0, 0, :3]) == grey and tuple(rgba[top - 1, left, :3]) == grey  # border and number strip
    assert tuple(rgba[top, left - 1, :3]) == grey and tuple(rgba[top + 6, left, :3]) == grey  # left edge, gap below


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


@pytest.mark.parametrize("shape", [(4, 3, 3), (64, 56, 56), (256, 56, 56), (3, 5, 40), (2048, 7, 7),
                                   (64, 224, 224), (20, 301, 299)])
def test_hover_cells_are_one_regular_lattice_over_the_tiles(shape):
    """Plotly draws a regular heatmap as one small image and an irregular one a rectangle per cell on a
    plot-sized canvas (about 5× the time of the rest of the figure, on every redraw): the hover layer is a
    regular k×k lattice, and every cell lies exactly on the block of its tile that its values come from
    (positions in the map's own pixels, also where the picture is drawn at a reduced scale)."""
    maps = torch.rand(*shape)
    figure = fv.channel_grid(maps)
    hover, meta = figure.data[1], figure.layout.meta["featviz"]
    k, scale = meta["hover_block"], meta["picture_scale"]
    assert hover.x is None and hover.y is None and (hover.dx, hover.dy) == (k, k)
    assert (hover.x0, hover.y0) == ((k - 1) / 2, (k - 1) / 2)  # cell (r, c) covers mosaic pixels [rk, rk + k)
    z, custom = np.asarray(hover.z), np.asarray(hover.customdata).astype(int)
    rows, cols = np.nonzero(~np.isnan(z))
    channel, y, x = custom[rows, cols].T
    (top, left), (pitch_y, pitch_x) = meta["first_tile"], meta["pitch"]
    tile_row, tile_col = np.divmod(channel, meta["columns"])  # shown in channel order here
    assert (rows * k == top + tile_row * pitch_y + y // scale).all()
    assert (cols * k == left + tile_col * pitch_x + x // scale).all()
    side = k * scale
    assert (y % side == 0).all() and (x % side == 0).all()
    pooled = torch.nn.functional.avg_pool2d(maps.unsqueeze(1), side, side, ceil_mode=True).squeeze(1)
    assert np.allclose(z[rows, cols], pooled[channel, y // side, x // side].numpy())
    assert len(rows) == pooled.numel()  # every block of every tile, once
    assert f"mean of {side}×{side}" in hover.hovertemplate or side == 1


@pytest.mark.parametrize("shape", [(64, 224, 224), (192, 300, 300), (256, 192, 192), (32, 600, 600), (96, 112, 112)])
def test_large_maps_are_sent_at_the_resolution_they_are_drawn_at(shape):
    """The first layers of VGG, EfficientNet-B7 or RegNet-128GF are millions of pixels: the mosaic is reduced
    by the smallest factor that keeps the whole figure within 2 MB, each pixel the mean of its block, and
    where the budget allows, not below the size a tile is drawn on screen."""
    torch.manual_seed(0)
    maps = torch.randn(*shape)  # noise: the worst case for PNG compression
    figure = fv.channel_grid(maps, normalize="per_layer", colormap="gray")
    meta = figure.layout.meta["featviz"]
    k = meta["picture_scale"]
    assert len(pio.to_json(figure, validate=False)) <= 2 * 2**20
    assert k > 1 and meta["map_shape"] == list(shape[1:]) and meta["tile_shape"] == [-(-n // k) for n in shape[1:]]
    if shape != (96, 112, 112):  # where the budget allows, no fewer pixels than the tile is drawn with
        assert min(meta["tile_shape"]) >= meta["tile_px"]
    rgba = _png(figure)
    (top, left), (pitch_y, pitch_x), (h, w) = meta["first_tile"], meta["pitch"], meta["tile_shape"]
    means = torch.nn.functional.avg_pool2d(torch.as_tensor(normalize(maps, "per_layer").values[:3]).unsqueeze(1), k, k,
                                           ceil_mode=True).squeeze(1)
    for channel in range(3):
        row, col = divmod(channel, meta["columns"])
        tile = rgba[top + row * pitch_y : top + row * pitch_y + h, left + col * pitch_x : left + col * pitch_x + w]
        expected = lookup_table("gray")[np.rint(means[channel].numpy() * (LEVELS - 1)).astype(int)]
        assert np.array_equal(tile[..., :3], expected)


def test_a_layer_that_fits_is_sent_at_full_resolution():
    for shape in [(64, 112, 112), (512, 28, 28), (2048, 7, 7)]:
        assert fv.channel_grid(torch.rand(*shape)).layout.meta["featviz"]["picture_scale"] == 1, shape


def test_hover_is_pooled_for_large_layers_and_says_so():
    hover = fv.channel_grid(torch.rand(256, 56, 56)).data[1]
    cells = np.asarray(hover.z).size
    assert cells <= HOVER_MAX_CELLS * 1.2
    assert "mean of" in hover.hovertemplate


def _screen_tiles(figure, display_width: int) -> tuple[float, float, float, float]:
    """(tile width, tile height, horizontal pitch, strip height) on screen, from the drawn mosaic's size."""
    meta = figure.layout.meta["featviz"]
    h, w = meta["tile_shape"]
    layout = mosaic_layout(meta["channels_shown"], h, w, display_width,
                           label_font=meta["label_px"], label_digits=len(max(figure.data[2].text, key=len)),
                           align=meta["hover_block"])
    mosaic_width = _png(figure).shape[1]
    assert mosaic_width == layout.mosaic_width and meta["columns"] == layout.cols  # the layout that was drawn
    scale = display_width / mosaic_width
    return w * scale, h * scale, layout.pitch_x * scale, layout.label * scale


@pytest.mark.parametrize("channels", [64, 512, 2048])
def test_tiles_are_never_drawn_below_the_readable_size(channels):
    figure = fv.channel_grid(torch.rand(channels, 7, 7))
    tile_w, tile_h, _, _ = _screen_tiles(figure, DISPLAY_WIDTH)
    assert min(tile_w, tile_h) >= MIN_TILE_PX
    assert figure.layout.meta["featviz"]["tile_px"] >= MIN_TILE_PX
    # the figure is tall enough to draw the mosaic at the laid-out width (no height cap shrinks it)
    mosaic_height = _png(figure).shape[0] * DISPLAY_WIDTH / _png(figure).shape[1]
    assert figure.layout.height - figure.layout.margin.t - figure.layout.margin.b >= mosaic_height


@pytest.mark.parametrize(("channels", "large_text", "width"),
                         [(2048, False, DISPLAY_WIDTH), (2048, True, PRESENTATION_WIDTH), (256, True, 600)])
def test_every_channel_number_fits_its_tile_and_never_touches_the_next(channels, large_text, width):
    figure = fv.channel_grid(torch.rand(channels, 7, 7), large_text=large_text, display_width=width)
    labels = figure.data[2]
    assert list(labels.text) == [str(i) for i in range(channels)]  # tiles are made wide enough for every one
    size = labels.textfont.size
    assert size >= (LARGE_LABEL_FONT_PX if large_text else 10)
    tile_w, _, pitch, strip = _screen_tiles(figure, width)
    widest = max(label_width(text, size) for text in labels.text)  # a generous estimate of the drawn width
    assert widest <= pitch and strip >= size  # left-aligned in the strip above its tile: no overlap either way
    xs, ys = np.asarray(labels.x), np.asarray(labels.y)
    same_row = np.diff(ys) == 0
    assert (np.diff(xs)[same_row] * width / _png(figure).shape[1] >= widest).all()


def test_a_number_is_left_out_where_it_cannot_fit_and_hover_still_tells():
    # 12 px wide: one column of tiles narrower than a readable two-digit number
    figure = fv.channel_grid(torch.rand(100, 7, 7), display_width=12)
    assert list(figure.data[2].text) == [str(i) for i in range(10)]  # one digit fits, two do not
    assert figure.layout.meta["featviz"]["labels_drawn"] == 10
    assert "channel %{customdata[0]}" in figure.data[1].hovertemplate


def test_presentation_text_is_large_and_the_subtitle_readable_without_it():
    normal = fv.channel_grid(torch.rand(64, 7, 7), subtitle="resnet18 · UNTRAINED (random weights, seed 0)")
    large = fv.channel_grid(torch.rand(64, 7, 7), subtitle="resnet18 · UNTRAINED (random weights, seed 0)",
                            large_text=True, display_width=PRESENTATION_WIDTH)

    def subtitle_px(figure) -> int:
        return int(re.search(r"<span style='font-size:(\d+)px'>resnet18 · UNTRAINED", figure.layout.title.text)[1])

    assert subtitle_px(normal) >= 12 and normal.layout.title.font.size >= 14
    assert subtitle_px(large) >= 16 and large.layout.title.font.size >= 16
    assert large.data[2].textfont.size >= 16 and large.data[3].marker.colorbar.tickfont.size >= 16
    assert large.layout.meta["featviz"]["large_text"] and not normal.layout.meta["featviz"]["large_text"]
    # channel numbers are black or white, whichever stands out from the grey strip they sit on (not grey on grey)
    colour = tuple(int(c) for c in re.findall(r"\d+", normal.data[2].textfont.color))
    assert contrast_ratio(colour, surround("viridis")) >= 4.5


@pytest.mark.parametrize("colormap", list(COLORMAPS))
def test_both_ends_of_every_colour_map_stand_out_from_what_surrounds_the_tiles(colormap):
    darkest, brightest, lowest, highest = key_colours(colormap)
    grey = surround(colormap)
    assert min(contrast_ratio(lowest, grey), contrast_ratio(highest, grey)) >= MIN_SURROUND_CONTRAST
    assert min(contrast_ratio(darkest, grey), contrast_ratio(brightest, grey)) >= 2.95  # turbo: 2.98
    assert contrast_ratio(label_colour(colormap), grey) >= 4.5
    # and that grey is what the drawn mosaic has around a tile whose values reach both ends
    maps = torch.stack([torch.linspace(0, 1, 16).reshape(4, 4), torch.zeros(4, 4)])
    rgba = _png(fv.channel_grid(maps, normalize="per_layer", colormap=colormap))
    layout = mosaic_layout(2, 4, 4, DISPLAY_WIDTH)
    top, left = layout.tile_origin(0)
    assert tuple(rgba[top, left, :3]) == tuple(lowest) and tuple(rgba[top + 3, left + 3, :3]) == tuple(highest)
    around = [rgba[top - 1, left + 3], rgba[top + 3, left + 4], rgba[top + 4, left + 3], rgba[top, left - 1]]
    assert all(tuple(pixel[:3]) == grey and pixel[3] == 255 for pixel in around)


def test_a_linear_layer_is_drawn_as_bars_on_one_shared_scale_not_as_1x1_tiles():
    model = fv.load_model("digits_cnn")
    maps = fv.capture(model, fv.load_sample("Handwritten 7"))
    figure = fv.channel_grid(maps["fc2"])  # the 10 logits, per-channel min–max asked for (the default)
    assert [trace.type for trace in figure.data] == ["bar", "scatter"]  # the bars and their colour bar
    bars, scale = figure.data
    assert np.allclose(np.asarray(bars.y, dtype=np.float64), maps["fc2"].tensor.numpy(), rtol=1e-6)
    assert list(bars.x) == [str(i) for i in range(10)] and "channel %{x}" in bars.hovertemplate
    assert np.asarray(bars.customdata).reshape(-1).tolist() == list(range(10))  # what a click reads
    meta = figure.layout.meta["featviz"]
    assert meta["kind"] == "vector" and meta["drawn_as"] == "bars" and meta["channels_total"] == 10
    assert meta["normalization_requested"] == "per_channel" and meta["normalization"] == "per_layer"
    assert "does not apply to single values" in meta["note"]
    values = maps["fc2"].tensor
    assert (scale.marker.cmin, scale.marker.cmax) == pytest.approx((values.min().item(), values.max().item()))
    assert scale.marker.showscale and scale.hoverinfo == "skip"
    assert figure.layout.yaxis.zeroline and "fc2 · Linear · all 10 values" in figure.layout.title.text


@pytest.mark.parametrize("colormap", ["viridis", "hot", "RdBu (diverging)"])
def test_bars_are_coloured_as_the_tiles_are_without_plotly_colour_scales(colormap):
    """Plotly colours numeric bars through its colour scale functions, about 0.1 s per 1000 bars on every
    redraw; the figure gives each bar its colour, from the same palette levels as the grid's tiles."""
    values = torch.tensor([-2.0, 0.0, 1.0, 2.0, float("nan")])
    bars = fv.channel_grid(values, normalize="symmetric", colormap=colormap).data[0]
    assert bars.marker.colorscale is None and bars.marker.cmin is None
    table = lookup_table(colormap)
    levels = np.rint(np.array([0.0, 0.5, 0.75, 1.0]) * (LEVELS - 1)).astype(int)  # symmetric: −2…2 → 0…1
    expected = [*table[levels], NAN_RGB]
    assert list(bars.marker.color) == ["#{:02x}{:02x}{:02x}".format(*map(int, rgb)) for rgb in expected]


@pytest.mark.parametrize("shape", [(512, 1, 1), (4096,), ()])
def test_pooled_maps_long_vectors_and_scalars_are_bars_in_the_chosen_order(shape):
    tensor = torch.randn(shape)
    count = tensor.numel()
    order = list(range(count))[::-1]
    figure = fv.channel_grid(tensor, order=order, normalize="symmetric")
    assert figure.data[0].type == "bar" and list(figure.data[0].x) == [str(i) for i in order]
    assert np.allclose(np.asarray(figure.data[0].y), tensor.reshape(-1).numpy()[order])
    assert figure.layout.meta["featviz"]["normalization"] == "symmetric" and not figure.layout.meta["featviz"]["note"]
    pio.to_json(figure, validate=False)


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
    if figure.layout.meta["featviz"]["drawn_as"] == "tiles":
        assert figure.data[0].source.startswith("data:image/png")
    else:
        assert shape in ((1000,), (1, 1, 1)) and figure.data[0].type == "bar"
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
