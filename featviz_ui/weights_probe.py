"""Whether a zoo model's pretrained weights are on this machine, can be downloaded, or are missing.

On disk is checked on every rerun (a file copied there by hand shows up at once); the network is asked at
most every two minutes, so an offline machine stays fast.
"""

from __future__ import annotations

import streamlit as st

from featviz_core.models import WeightsFile, WeightsState, weights_file, weights_state


@st.cache_data(ttl=120, show_spinner=False)
def _probe_download(url: str) -> bool:
    """Whether the weights server answers; remembered for two minutes so reruns stay fast offline."""
    file = WeightsFile(model="", weights="", url=url)
    return weights_state(file) is WeightsState.DOWNLOADABLE


def weights_status(name: str) -> tuple[WeightsFile, WeightsState]:
    file = weights_file(name)
    if file.is_cached:
        return file, WeightsState.CACHED
    if not file.url:  # a team's model: its file is on this server or nowhere
        return file, WeightsState.UNAVAILABLE
    return file, WeightsState.DOWNLOADABLE if _probe_download(file.url) else WeightsState.UNAVAILABLE


def recheck_weights() -> None:
    """Forget what the network said, so *Check again* asks it again."""
    _probe_download.clear()
