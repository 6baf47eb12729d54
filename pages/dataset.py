"""A whole image collection through the model: what each channel responds to across it. Scan a collection
(bundled, a shared folder, or a zip), then look at a channel's top images, the channels that never fire, and
which classes excite which channels; an image opens in the single-image view."""

from __future__ import annotations

import streamlit as st

from featviz_ui.controls import pick_layer
from featviz_ui.dataset_view import (
    ScanRequest,
    channel_summary,
    class_matrix,
    engine_note,
    pick_collection,
    pick_saved,
    resume_note,
    run_scan,
    show_top_images,
)
from featviz_ui.page import show_messages, start_page
from featviz_ui.state import keep_choice, persistent_choice, show_in_link

ctx, messages = start_page("Dataset")
if st.session_state.pop("open_explorer", False):
    st.switch_page("pages/explore.py", query_params={})
model, captured = ctx.model, ctx.captured
with st.sidebar:
    st.header("3 · Layer", divider="gray")
    layer = pick_layer(model, captured)

st.markdown(f"What each channel of **{model.label}** responds to across a collection of images: its top images, "
            "the channels that never fire, and which classes excite which channels.")
with st.expander("Scan a collection", expanded=True):
    collection, problems = pick_collection()
    ctx.problems += problems
    names = list(captured)
    chosen = st.multiselect("Layers", names, default=[layer], key="scan_layers",
                            help="Only these layers' outputs are kept; one pass computes them all.")
    left, right = st.columns(2)
    top_k = left.number_input("Top images per channel", 1, 64, 16, key="scan_top_k")
    batch = right.select_slider("Batch size", [1, 8, 16, 32, 64, 128], 32, key="scan_batch")
    engine_note()
    if collection is not None and chosen:
        label = resume_note(model, collection, chosen, int(top_k))
        if st.button(label, key="run_scan", type="primary", icon=":material/play_arrow:"):
            folder = run_scan(model, ScanRequest(collection, chosen, int(top_k), int(batch)))
            st.session_state["scan_just_saved"] = str(folder)

st.subheader("Results")
saved = pick_saved(model)
if saved is not None:
    layers = saved.manifest["layers"]
    persistent_choice("scan_layer", layers, layer if layer in layers else layers[0], "layer")
    shown_layer = st.selectbox("Layer", layers, key="scan_layer")
    keep_choice("scan_layer")
    channels = saved.manifest["shapes"][shown_layer][0]
    persistent_choice("channel", list(range(channels)), 0, "channel", parse=int)
    channel = st.number_input("Channel", 0, channels - 1, key="channel")
    keep_choice("channel")
    show_in_link("channel", channel, 0)
    channel_summary(saved, shown_layer)
    st.markdown(f"#### Channel {channel}: its top {saved.manifest['top_k']} images")
    show_top_images(model, saved, shown_layer, int(channel))
    class_matrix(saved, shown_layer)
show_messages(ctx, messages)
