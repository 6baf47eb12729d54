"""Feature maps: every channel of the chosen layer, for the image and model chosen in the sidebar."""

from __future__ import annotations

import streamlit as st
from PIL import Image

import featviz_core as fv
from featviz_core import settings
from featviz_core.activations import MIN_NOISE_SIZE, NOISE_THRESHOLD, ChannelStats, ChannelView, view_of
from featviz_core.analysis import PAGE_SIZE, ChannelSelection, layer_values
from featviz_core.draw import DISPLAY_WIDTH, PRESENTATION_WIDTH, is_vector, prediction_chart
from featviz_core.export import capture_npz_size, grid_zip, png_page_count
from featviz_core.images import image_notes
from featviz_ui.caches import cached_grid, cached_preview, cached_stats
from featviz_ui.controls import PAGE_KEY, live_display, pick_channel_order, pick_display, pick_layer
from featviz_ui.live_grid import live_grid
from featviz_ui.page import reading_layers, show_messages, start_page, stop_page
from featviz_ui.state import keep_choice, persistent_choice, show_in_link

INPUT_DISPLAY = 224  # small inputs (28×28 digits) are enlarged without smoothing, so pixels stay visible


def model_input(model: fv.LoadedModel, captured: fv.Capture) -> Image.Image:
    seen = model.input_image(captured.input)
    if max(seen.size) < INPUT_DISPLAY:
        scale = INPUT_DISPLAY // max(seen.size)
        seen = seen.resize((seen.width * scale, seen.height * scale), Image.Resampling.NEAREST)
    return seen


def layer_facts(fmap: fv.FeatureMap, view: ChannelView) -> None:
    values = layer_values(fmap)  # from the exact values, not the float16 copy the grid draws
    st.markdown(
        f"**Layer** `{fmap.name}`  \n"
        f"**Type** {fmap.module_type}  \n"
        f"**Output shape** {' × '.join(map(str, fmap.shape)) or 'scalar'}  \n"
        f"**Shown as** {view.channels} maps of {view.maps.shape[1]}×{view.maps.shape[2]}  \n"
        f"**Values** min {values.min:.4g} · mean {values.mean:.4g} · max {values.max:.4g}"
    )
    for note in (fmap.note, view.note):
        if note:
            st.info(note)


def prediction(model: fv.LoadedModel, captured: fv.Capture) -> None:
    top = 10 if len(model.categories) <= 10 else 5
    predictions = fv.predict(model, captured, top=top)
    if not predictions:
        st.caption("This model's output is not a class score vector: no prediction to show.")
        return
    label, probability = predictions[0]
    st.metric(f"Prediction · {probability:.1%}", label)
    st.plotly_chart(prediction_chart(predictions, trained=model.trained, height=60 + 22 * len(predictions)),
                    width="stretch", key="prediction", config={"displayModeBar": False})


def file_stem(model: fv.LoadedModel, layer: str) -> str:
    """featviz_<model>_<weights>_<layer>, safe as a file name; untrained weights say so in the name."""
    weights = "untrained" if not model.trained else "".join(ch if ch.isalnum() else "-" for ch in model.weights)[:40]
    name = "".join(ch if ch.isalnum() or ch in "._" else "-" for ch in f"{model.name}_{weights}_{layer}")
    return f"featviz_{name}".strip("-")


def downloads(model: fv.LoadedModel, image, captured: fv.Capture, fmap: fv.FeatureMap,
              stats: ChannelStats, grid: fv.GridSettings, shown: str = "") -> None:
    """The grid as a slide-ready PNG (a ZIP of pages when its tiles need more than one), the raw arrays, the
    statistics; files are built only when clicked. ``shown`` says which channels the grid holds.

    The cache keeps activations in float16, so raw-value downloads run the model again in float32.
    """
    image_name = image.name

    def exact() -> fv.Capture:
        return fv.capture(model, image.image)

    stem = file_stem(model, fmap.name)
    caption = " · ".join(
        part for part in (f"{model.label} · {fmap.name} ({fmap.module_type})", shown, grid.describe(), image_name)
        if part
    )
    png, npy, npz, csv = st.columns(4)
    with_caption = png.toggle("Caption on the PNG", value=True, key="png_caption")
    png_caption = caption if with_caption else None
    pages = png_page_count(fmap, grid, caption=png_caption)
    if pages == 1:
        png.download_button(
            "Grid as PNG", key="download_png", file_name=f"{stem}.png", mime="image/png", on_click="ignore",
            icon=":material/image:", data=lambda: fv.grid_png(fmap, grid, caption=png_caption),
        )
    else:
        png.download_button(
            f"Grid as ZIP ({pages} pages)", key="download_png", file_name=f"{stem}.zip", mime="application/zip",
            on_click="ignore", icon=":material/folder_zip:",
            help=f"At 96 px a tile these channels do not fit one image: {pages} PNG pages, each numbered.",
            data=lambda: grid_zip(fv.grid_pngs(fmap, grid, caption=png_caption), stem),
        )
    npy.download_button(
        "This layer as .npy", key="download_npy", file_name=f"{stem}.npy", mime="application/octet-stream",
        on_click="ignore", icon=":material/data_array:", data=lambda: fv.layer_npy(exact()[fmap.name]),
    )
    size, limits = capture_npz_size(captured), settings.current()
    if size > limits.npz_max_bytes:
        npz.button("All layers as .npz", key="download_npz", disabled=True,
                   help=f"{size / 2**20:.0f} MB: over the {limits.npz_max_mb:.0f} MB limit; download layers one "
                   "by one.")
    else:
        npz.download_button(
            f"All layers as .npz ({size / 2**20:.0f} MB)", key="download_npz",
            file_name=f"{file_stem(model, 'all-layers')}.npz", mime="application/octet-stream", on_click="ignore",
            icon=":material/folder_zip:", data=lambda: fv.capture_npz(exact()),
        )
        if size > limits.npz_warn_bytes:
            npz.caption(f"Large: {size / 2**20:.0f} MB uncompressed.")
    csv.download_button(
        "Statistics as CSV", key="download_csv", file_name=f"{stem}_stats.csv", mime="text/csv",
        on_click="ignore", icon=":material/table:", data=lambda: fv.stats_csv(stats),
    )


def open_channel(channel: int) -> None:
    """A tile was clicked: show that channel up close (before the rerun, so its widgets start on it)."""
    st.session_state["channel"] = channel
    st.session_state["closeup_open"] = True
    st.toast(f"Channel {channel} opened below, under *One channel up close*.")


def channel_statistics(stats: ChannelStats) -> None:
    """Every channel's figures; selecting a row opens that channel up close."""
    box = st.expander(f"Channel statistics ({stats.channels} channels) · select a row to look closer",
                      key="stats_open", on_change="rerun")
    if not box.open:  # built only when opened: 2048 rows cost every rerun otherwise
        return
    with box:
        st.caption(
            "Dead: every value is zero. Constant: one value everywhere. Noise-like: high-frequency energy above "
            f"{NOISE_THRESHOLD} of white noise's (1 = as rough as white noise, 0 = smooth structure)."
        )
        event = st.dataframe(
            stats.rows(), key="stats_table", on_select="rerun", selection_mode="single-row", hide_index=True,
            width="stretch", height=300,
            column_config={
                "sparsity": st.column_config.NumberColumn("sparsity", format="percent"),
                "hf_energy": st.column_config.NumberColumn("high-freq. energy", format="%.2f"),
            },
        )
        rows = event.selection.rows if event is not None else []
        if rows and st.session_state.get("picked_row") != rows[0]:
            st.session_state["picked_row"] = rows[0]
            st.session_state["channel"] = int(rows[0])
            st.session_state["closeup_open"] = True


def channel_closeup(model: fv.LoadedModel, captured: fv.Capture, fmap: fv.FeatureMap, stats: ChannelStats,
                    colormap: str) -> None:
    st.subheader("One channel up close")
    persistent_choice("channel", list(range(stats.channels)), 0, "channel", parse=int)
    left, right = st.columns([1, 3])
    channel = left.number_input("Channel", min_value=0, max_value=stats.channels - 1, step=1, key="channel",
                                on_change=lambda: st.session_state.update(closeup_open=True))
    keep_choice("channel")
    show_in_link("channel", channel, 0)
    row = stats.row(channel)
    flags = [flag for flag in ("dead", "constant", "noise_like") if row[flag]]
    not_applicable = (
        " · constant, noise-like: n/a (a single value)" if row["constant"] is None
        else f" · noise-like: n/a (maps under {MIN_NOISE_SIZE}×{MIN_NOISE_SIZE})" if row["noise_like"] is None
        else ""
    )
    right.markdown(
        f"mean {row['mean']:.4g} · max {row['max']:.4g} at {row['max_at']} · std {row['std']:.4g} · "
        f"sparsity {row['sparsity']:.0%} · high-frequency energy "
        f"{'n/a' if row['hf_energy'] is None else format(row['hf_energy'], '.2f')}"
        + (f" · **{', '.join(f.replace('_', '-') for f in flags)}**" if flags else "") + not_applicable
    )
    right.page_link("pages/dataset.py", label=f"Channel {channel} across a whole collection of images",
                    icon=":material/dataset:",
                    help="Its top images, whether it ever fires, and which classes excite it: the Dataset page, at "
                    "this layer and channel.")
    box = st.expander(f"Heatmap, overlay and histogram of channel {channel}", key="closeup_open", on_change="rerun")
    if not box.open:
        return
    big, side = box.columns([3, 2])
    big.plotly_chart(fv.channel_figure(fmap, channel, colormap), width="stretch", key="closeup")
    with side:
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="opacity")
        st.image(fv.overlay(model.input_image(captured.input).resize((224, 224)), fmap, channel,
                            opacity=opacity, colormap=colormap),
                 caption=f"Channel {channel} over the input the model saw", width="stretch")
        st.plotly_chart(fv.channel_histogram(fmap, channel), width="stretch", key="histogram")


def inside_layer(model: fv.LoadedModel, fmap: fv.FeatureMap) -> None:
    conv = fv.conv_module(model, fmap.name)
    if conv is None:
        return
    box = st.expander("Inside this layer: its filters and its output shape", key="inside_open", on_change="rerun")
    if not box.open:
        return
    with box:
        for line in fv.output_shape_explainer(conv, fmap.input_shape):
            st.markdown(f"`{line}`")
        rgb_input = conv.weight.shape[1] == 3
        if rgb_input:
            st.plotly_chart(fv.kernel_figure(conv, rgb_input=True), width="stretch", key="kernels_rgb")
        channel = int(st.session_state.get("channel", 0)) % conv.weight.shape[0]
        st.plotly_chart(fv.kernel_figure(conv, out_channel=channel), width="stretch", key="kernels")


ctx, messages = start_page("featviz · what the network sees")
model, captured, image = ctx.model, ctx.captured, ctx.image
st.page_link("pages/lessons.py", label="Lessons: what these maps are and how to read them, one click each",
              icon=":material/school:")

with st.sidebar:
    st.header("3 · Layer", divider="gray")
    layer = pick_layer(model, captured)
    st.header("4 · Display", divider="gray")
    display = pick_display()
    with reading_layers(ctx, messages):
        fmap = captured[layer]
    stats = cached_stats(ctx.capture_key, fmap)
    view = view_of(fmap)
    bars = is_vector(view)  # single values: one bar chart, never cut or paged
    selection = pick_channel_order(stats, page_size=None if bars else PAGE_SIZE)
    grid = display.with_order(selection.channels)

first, second, third, fourth = st.columns([1, 1, 1.2, 1.6])
width, height = image.image.size
first.image(image.image, caption=f"Input · {image.name} · {width}×{height}", width="stretch")
side = captured.input.shape[-1]
second.image(
    model_input(model, captured), width="stretch",
    caption=f"What the model sees · {side}×{captured.input.shape[-2]} after its preprocessing"
    + (" (as MNIST was made: light ink on dark, fitted to 20×20, centred by its centre of mass)"
       if model.name == "digits_cnn" else ""),
)
with third:
    prediction(model, captured)
with fourth:
    layer_facts(fmap, view)
    for note in image_notes(image.image):
        st.caption(f"Image: {note}.")

st.markdown(f"**{fmap.name}**: {stats.summary()}")
if not selection.channels:
    st.info("No channels left to show: every channel is dead. Turn off *Hide dead channels*.")
    stop_page(ctx, messages)


def show_everything() -> None:
    st.session_state["show"] = "all"
    st.session_state.pop(PAGE_KEY, None)  # from the first page


def grid_heading(selection: ChannelSelection) -> None:
    """Exactly which channels the grid shows, and the way to the others: "Show all" or the pages."""
    text, action = st.columns([3, 2], vertical_alignment="center")
    text.caption(f"{selection.description}.")
    if selection.pages > 1:
        with action:
            st.pagination(selection.pages, key=PAGE_KEY)
    elif selection.is_subset and st.session_state.get("show") == "auto":
        pages = -(-selection.available // PAGE_SIZE)
        action.button(f"Show all {selection.available}", key="show_all", icon=":material/grid_view:",
                      on_click=show_everything,
                      help=f"Every channel, {PAGE_SIZE} to a page ({pages} pages)" if pages > 1 else None)


def grid_caption(meta: dict, grid: fv.GridSettings) -> str:
    if meta["drawn_as"] == "bars":
        return " ".join(part for part in (
            "Each channel is one value, drawn as a bar on one shared scale in raw units (black line: zero); "
            f"colours: {meta['normalization'].replace('_', ' ')}, {grid.colormap}.", meta["note"],
            "Drag to zoom into a range of channels, double-click to reset; hover for channel and value; click a "
            "bar to open that channel below.") if part)
    reduced = ""
    if meta.get("picture_scale", 1) > 1:
        (h, w), k = meta["map_shape"], meta["picture_scale"]
        reduced = (f" Tiles are drawn at 1/{k} of their {h}×{w} pixels (each the mean of {k}×{k}) to keep the page "
                   "fast; the channel you open is drawn at full resolution.")
    return (f"Colours: {grid.describe()}.{reduced} Click a tile to open that channel below; drag to zoom, "
            "double-click to reset; hover for channel, position and raw value.")


grid_heading(selection)
grid_width = PRESENTATION_WIDTH if grid.large_text else DISPLAY_WIDTH
try:
    figure = cached_grid(ctx.capture_key, fmap, grid, model.label, display_width=grid_width)
except ValueError as exc:
    st.error(f"This view cannot be drawn: {exc}")
    stop_page(ctx, messages)
st.plotly_chart(figure, width="stretch", key="grid", config={"displaylogo": False, "scrollZoom": False})
on_screen, controls, orders = live_display(grid, stats, page_size=None if bars else PAGE_SIZE)
live_grid("grid", open_channel, display=on_screen, controls=controls,
          preview=cached_preview(ctx.capture_key, fmap, grid, model.label, orders, display_width=grid_width))
st.caption(grid_caption(figure.layout.meta["featviz"], grid))

downloads(model, ctx.image, captured, fmap, stats, display.with_order(selection.exported),
          shown=selection.description if selection.is_subset and selection.pages == 1 else "")
channel_statistics(stats)
channel_closeup(model, captured, fmap, stats, grid.colormap)
inside_layer(model, fmap)
show_messages(ctx, messages)
