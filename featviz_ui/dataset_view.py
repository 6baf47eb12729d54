"""The Dataset page's parts: choosing a collection, running a scan with progress and a way to stop it, and
showing a saved scan (a channel's top images, the dead channels, the channel × class matrix)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import plotly.graph_objects as go
import streamlit as st

import featviz_core as fv
from featviz_core import datasets, settings
from featviz_core.scan import (
    HOW_FOUND,
    Progress,
    SavedScan,
    has_checkpoint,
    list_scans,
    save,
    scan,
    scan_key,
    scans_root,
    top_images,
)

from . import upload_limits
from .context import decode
from .given import take
from .messages import Problem
from .state import follow_link, keep, kept

UPLOAD_ZIP = "Upload a zip of images"
ZIPS = "dataset_zips"
"""Session state: the zips this session uploaded, by name (a scan's images stay viewable while it lasts)."""


def pick_collection() -> tuple[Optional[datasets.Dataset], list[Problem]]:
    """A bundled set, a folder the server's owner shares, or a zip the person uploads."""
    roots = datasets.data_roots()
    folders = {f"Folder: {path}": path for path in datasets.allowed_folders(roots)}
    options = [*datasets.BUNDLED, *folders, UPLOAD_ZIP]
    choice = st.selectbox("Images", options, key="scan_source",
                          help="The bundled sets ship with featviz. Folders are those the server's owner shares "
                          "(FEATVIZ_DATA_ROOTS); a folder with one sub-folder per class gives each image its class.")
    if not folders:
        st.caption("This server shares no folders (FEATVIZ_DATA_ROOTS is not set): scan a bundled set or a zip.")
    problems: list[Problem] = []
    try:
        if choice in datasets.BUNDLED:
            return datasets.bundled(choice), problems
        if choice in folders:
            return datasets.folder(folders[choice], roots), problems
    except fv.FeatvizError as exc:
        from .messages import problem

        return None, [problem("", exc)]
    upload = st.file_uploader("Zip of images (one folder per class gives labels)", type=["zip"], key="scan_zip",
                              max_upload_size=upload_limits.dataset_zip_mb())
    if upload is not None:
        problems = take("scan_zip", upload.file_id, upload.name, lambda: _zip(upload.name, upload.getvalue()))
    return kept("scan_zip"), problems


def _zip(name: str, data: bytes) -> datasets.Dataset:
    collection = datasets.zip_archive(data, name)
    st.session_state.setdefault(ZIPS, {})[name] = data
    return collection


@dataclass(frozen=True)
class ScanRequest:
    collection: datasets.Dataset
    layers: list[str]
    top_k: int
    batch_size: int


def run_scan(model: fv.LoadedModel, request: ScanRequest) -> Optional[Path]:
    """Run the scan with a progress bar; a click on *Stop* (any click, in fact: Streamlit starts the page
    again) interrupts it between batches, and its checkpoint lets the next *Scan* resume."""
    root = scans_root()
    key = scan_key(model, request.collection, request.layers, request.top_k)
    bar = st.progress(0.0, text="Starting…")
    st.button("Stop", key="stop_scan", icon=":material/stop:",
              help="Stops after the current batch; *Scan* again resumes where it stopped.")

    def report(progress: Progress) -> None:
        left = f" · {progress.seconds_left:.0f} s left" if progress.seconds_left is not None else ""
        bar.progress(progress.done / max(progress.total, 1),
                     text=f"{progress.done:,} of {progress.total:,} images · {progress.per_second:.0f} images/s{left}")

    with st.spinner("Scanning…", show_time=True):
        if settings.current().scan_engine == "ray":  # the server's owner chose the cluster
            from featviz_core.scan import scan_on_ray

            result = scan_on_ray(model, request.collection, request.layers, top_k=request.top_k,
                                 batch_size=request.batch_size, progress=report,
                                 address=settings.current().ray_address or None)
        else:
            result = scan(model, request.collection, request.layers, top_k=request.top_k,
                          batch_size=request.batch_size, progress=report, checkpoint=root / key)
    folder = save(result, root)
    bar.progress(1.0, text=f"{len(request.collection):,} images in {result.manifest['seconds']:.1f} s "
                 f"({result.manifest['images_per_second'] or 0:.0f} images/s)")
    return folder


def resume_note(model: fv.LoadedModel, collection: datasets.Dataset, layers: list[str], top_k: int) -> str:
    done = has_checkpoint(scans_root() / scan_key(model, collection, layers, top_k), scan_key(model, collection,
                                                                                              layers, top_k))
    return f"Resume ({done:,} of {len(collection):,} done)" if done else f"Scan {len(collection):,} images"


def pick_saved(model: fv.LoadedModel) -> Optional[SavedScan]:
    """The saved scans, this model's first; the one just made is chosen."""
    saved = list_scans()
    if not saved:
        st.info("No scans yet: scan a collection above. Results are kept in "
                f"`{scans_root()}` (FEATVIZ_SCAN_DIR) and listed here.")
        return None
    saved.sort(key=lambda s: s.manifest.get("model") != model.name)
    titles = {str(s.folder): s.title for s in saved}
    latest = st.session_state.pop("scan_just_saved", None)
    if latest in titles:
        st.session_state["saved_scan"] = latest
    chosen = st.selectbox("Scan", list(titles), format_func=titles.get, key="saved_scan")
    return next(s for s in saved if str(s.folder) == chosen)


def channel_summary(saved: SavedScan, layer: str) -> None:
    """Dead channels and a table of every channel's figures over the collection."""
    channels = saved.table("channels", layer)
    dead = channels.loc[channels["never_active"], "channel"].tolist()
    images = saved.manifest["images"] - saved.manifest["skipped"]
    st.markdown(f"**{layer}**: {len(channels)} channels over {images:,} images · "
                f"**{len(dead)} never active** (at or below zero everywhere, on every image)"
                + (f": {', '.join(map(str, dead[:40]))}{' …' if len(dead) > 40 else ''}" if dead else ""))
    skipped = saved.table("skipped")
    if len(skipped):
        with st.expander(f"{len(skipped)} file(s) could not be read and were skipped"):
            st.dataframe(skipped, hide_index=True, width="stretch")
    with st.expander("Every channel over the collection"):
        st.dataframe(channels.drop(columns=["layer", "histogram"]), hide_index=True, width="stretch", height=260,
                     column_config={"active_fraction": st.column_config.NumberColumn("active", format="percent")})


def show_top_images(model: fv.LoadedModel, saved: SavedScan, layer: str, channel: int) -> None:
    """The channel's top images, cropped to what the unit sees, each with a button that opens it in the
    single-image view at this layer and channel."""
    top = saved.table("top", layer)
    top = top[top["channel"] == channel].sort_values("rank")
    collection = datasets.reopen(saved.manifest.get("dataset_source", {}), datasets.data_roots(),
                                 st.session_state.get(ZIPS))
    if collection is None:
        st.info("The images of this scan are not available in this session (an uploaded zip from another "
                "session, or a folder no longer shared): their names and values are listed instead.")
        st.dataframe(top[["rank", "name", "value", "y", "x"]], hide_index=True)
        return
    if saved.manifest.get("model_label") != model.label:
        st.warning(f"This scan was made with **{saved.manifest['model_label']}**; the sidebar has "
                   f"**{model.label}**. Choose that model to see the images through it.")
        return
    items = {item.index: item for item in collection.items}
    pictures = [items[int(i)].read() for i in top["image"]]
    shown = _tiles(model, saved, layer, channel, tuple(top["image"]), pictures, list(zip(top["y"], top["x"],
                                                                                           strict=True)))
    how = " and ".join(dict.fromkeys(HOW_FOUND[tile.found_by] for tile in shown)) or HOW_FOUND["estimate"]
    st.caption(f"Each image cropped to what the unit at its maximum sees (from the {how}), the channel's map "
               "laid over it, the maximum outlined in red. *Open* shows the image in the single-image view.")
    for row in range(0, len(shown), 4):
        for column, (tile, (_, entry)) in zip(st.columns(4), list(zip(shown, top.iterrows(), strict=True))[row:row + 4],
                                              strict=False):
            column.image(tile.picture, caption=f"#{int(entry['rank']) + 1} · {entry['value']:.3g} · {entry['name']}",
                         width="stretch")
            column.button("Open", key=f"open_top_{int(entry['rank'])}", icon=":material/open_in_new:",
                          on_click=open_in_explorer,
                          args=(saved, layer, channel, str(entry["name"]), pictures[int(entry["rank"])]))


def _tiles(model, saved, layer, channel, images, pictures, positions):
    key = (str(saved.folder), layer, channel, images)
    cache = st.session_state.setdefault("scan_tiles", {})
    if key not in cache:
        with st.spinner("Finding what each unit sees…"):
            cache.clear()  # one channel's tiles at a time: a session keeps no more
            cache[key] = top_images(model, pictures, layer, channel, positions)
    return cache[key]


def open_in_explorer(saved: SavedScan, layer: str, channel: int, name: str, data: bytes) -> None:
    """Put the image into this session as an upload and open the single-image view on it, at the layer and
    channel (and the model and weights the scan used, when the sidebar can choose them)."""
    keep("upload", decode(data, name.rsplit("/", 1)[-1]))
    link = {"source": "Upload", "layer": layer, "channel": str(channel)}
    if saved.manifest.get("model") in fv.available_models():
        link.update(model=saved.manifest["model"], weights="pretrained" if saved.manifest.get("weights") else
                    "untrained")
    follow_link(link)
    st.session_state["closeup_open"] = True
    st.session_state["open_explorer"] = True


def class_matrix(saved: SavedScan, layer: str) -> None:
    """Channel × class: each channel's mean activation on each class's images (normalized per channel)."""
    if not saved.manifest.get("classes"):
        return
    classes = saved.table("classes", layer)
    table = classes.pivot(index="class", columns="channel", values="mean").reindex(saved.manifest["classes"])
    values = table.to_numpy()
    spread = values.max(0) - values.min(0)
    normalized = (values - values.min(0)) / (spread + 1e-12)
    figure = go.Figure(go.Heatmap(z=normalized, x=list(table.columns), y=[str(c) for c in table.index],
                                  colorscale="Viridis", colorbar={"title": "per channel<br>0 = min, 1 = max"},
                                  customdata=values, hovertemplate="channel %{x} · class %{y}<br>mean %{customdata:.4g}"
                                  "<extra></extra>"))
    figure.update_layout(title=f"{layer}: mean activation per class", xaxis_title="channel", yaxis_title="class",
                         height=max(260, 22 * len(table) + 120), margin={"t": 50, "b": 40})
    st.plotly_chart(figure, width="stretch", key="class_matrix")


def engine_note() -> None:
    if settings.current().scan_engine == "ray":
        st.caption(f"Scans run on Ray ({settings.current().ray_address or 'a local Ray'}).")
