"""Upload limits as each uploader states and enforces them: featviz's own settings, never above what
Streamlit's server accepts (``server.maxUploadSize``, which refuses larger requests before featviz sees
them). featviz checks the exact limit again after the upload (:mod:`featviz_core.settings`)."""

from __future__ import annotations

import math

import streamlit as st

from featviz_core import settings


def _capped_mb(limit_mb: float) -> int:
    """Whole MB for ``st.file_uploader(max_upload_size=...)``, which takes an integer of at least 1."""
    return max(1, min(math.ceil(limit_mb), int(st.get_option("server.maxUploadSize"))))


def image_mb() -> int:
    return _capped_mb(settings.current().max_image_mb)


def model_file_mb() -> int:
    """Weights files and TorchScript archives."""
    return _capped_mb(settings.current().max_weights_mb)


def dataset_zip_mb() -> int:
    """Zips of images for a dataset scan."""
    return _capped_mb(settings.current().max_dataset_zip_mb)
