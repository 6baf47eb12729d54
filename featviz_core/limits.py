"""Server limits, each overridable by an environment variable so a deployment can set its own.

| variable | default | what |
|---|---|---|
| FEATVIZ_MAX_IMAGE_MB | 50 | largest image file accepted |
| FEATVIZ_MAX_IMAGE_MEGAPIXELS | 40 | largest image accepted, width × height, checked before decoding |
| FEATVIZ_MAX_WEIGHTS_MB | 600 | largest weights or TorchScript file accepted (vgg19_bn's checkpoint is 548 MB) |

Streamlit's own ``server.maxUploadSize`` (``.streamlit/config.toml``) must be at least the largest of these.
"""

from __future__ import annotations

import os

MB = 2**20


def _number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def max_image_bytes() -> int:
    return int(_number("FEATVIZ_MAX_IMAGE_MB", 50) * MB)


def max_image_pixels() -> int:
    return int(_number("FEATVIZ_MAX_IMAGE_MEGAPIXELS", 40) * 1_000_000)


def max_weights_bytes() -> int:
    return int(_number("FEATVIZ_MAX_WEIGHTS_MB", 600) * MB)
