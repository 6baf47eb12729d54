"""Every model in the picker runs untrained on what its default weights' preprocessing makes (issue 12.4).

Swept on PyTorch's meta device: the models are built by featviz's own builder path and run on the shape
their preprocessing gives, with no memory or arithmetic spent, so all 81 take seconds. RegNet builders
read tensor values while they build, which the meta device cannot; the smallest one runs for real.
"""

from __future__ import annotations

import pytest
import torch

import featviz_core as fv
from featviz_core.models import _load as models

META_UNBUILDABLE = "Cannot copy out of meta tensor"


@pytest.mark.parametrize("name", models.list_zoo_models())
def test_an_untrained_zoo_model_takes_its_own_preprocessing(name):
    side = models.get_model_weights(name).DEFAULT.transforms().crop_size[0]
    try:
        with torch.device("meta"):
            module = models._build(name, None).eval()
    except fv.ModelError as error:
        assert name.startswith("regnet_") and META_UNBUILDABLE in error.detail, error
        return  # covered for real by the test below
    with torch.inference_mode():
        module(torch.empty(1, 3, side, side, device="meta"))


def test_a_regnet_runs_untrained_for_real_on_its_preprocessing(one_torch_thread):
    model = fv.load_model("regnet_y_400mf", weights=None)
    maps = fv.capture(model, fv.load_sample("Coffee cup"))
    assert maps.input.shape[-2:] == (224, 224) and len(maps) > 100
