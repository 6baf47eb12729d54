"""Model overview: every layer for one image, in one table and two curves through depth (for reviews)."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_ui.page import finish_every_layer, reading_layers, show_messages, start_page

ctx, messages = start_page("Model overview")
model, captured = ctx.model, ctx.captured
with reading_layers(ctx, messages):
    finish_every_layer(captured)
summary = fv.layer_summary(model, captured)
top = fv.predict(model, captured, top=1)
st.markdown(
    f"**{model.label}** on **{ctx.image.name}** · {len(summary)} layer outputs from one forward pass · "
    f"{model.num_params:,} parameters" + (f" · predicts **{top[0][0]}** ({top[0][1]:.1%})" if top else "")
)
leaves_only = st.toggle("Leaf layers only (skip blocks that repeat their last child's output)", value=False,
                        key="leaves")
if leaves_only:
    leaves = {entry.key for entry in fv.layer_tree(model, captured) if entry.is_leaf}
    summary = [row for row in summary if row.name in leaves]
st.plotly_chart(fv.depth_profile(summary), width="stretch", key="depth_profile")
st.dataframe(
    [
        {
            "layer": row.name, "type": row.module_type, "output shape": " × ".join(map(str, row.shape)),
            "parameters": row.parameters, "sparsity": row.sparsity, "dead channels": row.dead_channels,
            "channels": row.channels, "mean activation": row.mean,
        }
        for row in summary
    ],
    key="overview_table", hide_index=True, width="stretch", height=520,
    column_config={
        "sparsity": st.column_config.ProgressColumn("sparsity", format="percent", min_value=0.0, max_value=1.0),
        "mean activation": st.column_config.NumberColumn("mean activation", format="%.4g"),
        "parameters": st.column_config.NumberColumn("parameters", format="localized"),
    },
)
st.caption(
    "Sparsity is the fraction of exact zeros in the layer's output (ReLU layers make them). Dead channels "
    "are channels that are zero everywhere for this image. Parameters are the module's own, blocks included."
)

st.subheader("Model review report")
st.caption("One self-contained HTML file: input image, prediction, the grids of the layers you mark, and the "
           "table above. It opens offline in any browser.")
layers = list(captured)
default_marks = [
    layer for layer in (fv.default_layer(captured), st.session_state.get("chosen_layer")) if layer in layers
]
marked = st.multiselect("Layers to include", layers, default=list(dict.fromkeys(default_marks)), key="report_layers")


def report() -> str:
    grids = []
    for name in marked:  # a layer whose tiles need several PNG pages (e.g. 2048 channels) adds each page
        pages = fv.grid_pngs(captured[name], caption=f"{model.label} · {name}")
        heading = f"{name} · {captured[name].module_type} · {' × '.join(map(str, captured[name].shape))}"
        grids += [(heading + (f" · page {number} of {len(pages)}" if len(pages) > 1 else ""), png)
                  for number, png in enumerate(pages, start=1)]
    return fv.review_report(
        title=f"featviz review: {model.name}", model_label=model.label, image=ctx.image.image,
        image_name=ctx.image.name, predictions=fv.predict(model, captured, top=5),
        summary=fv.layer_summary(model, captured), grids=grids, settings="grids: per-channel min–max, viridis",
    )


st.download_button("Download the review report (HTML)", key="download_report", data=report, mime="text/html",
                   file_name=f"featviz_review_{model.name}.html", on_click="ignore", icon=":material/description:",
                   disabled=not marked)
show_messages(ctx, messages)
