"""An image whose shape would make preprocessing explode is refused before it runs (issue 12.10)."""

from __future__ import annotations

import pytest
from PIL import Image

import featviz_core as fv
from featviz_core.capturing._input_budget import preprocess_bytes, short_side_target
from featviz_core.models import _load as models
from featviz_core.models._preprocess import GenericPreprocess
from tests.support.apptest import choose_model, grid_spec, start, upload
from tests.support.images import encode

THIN = {"20000×1": (20000, 1), "1×40000": (1, 40000)}


@pytest.mark.parametrize("size", THIN.values(), ids=THIN.keys())
def test_a_long_thin_image_is_refused_before_preprocessing_allocates(size):
    data = encode(Image.new("RGB", size, "white"), "PNG")
    assert len(data) < 300  # a tiny file: only its shape is dangerous
    image = fv.load_image(data)
    with pytest.raises(fv.ImageError, match=r"long and thin.*Crop it"):
        fv.capture(fv.load_model("resnet18", weights=None), image)


def test_ordinary_and_panoramic_images_still_run(one_torch_thread):
    model = fv.load_model("resnet18", weights=None)
    for size in [(4000, 3000), (3000, 20)]:
        assert fv.capture(model, Image.new("RGB", size, "gray")).input.shape == (3, 224, 224)


@pytest.mark.parametrize("name", models.list_zoo_models())
def test_every_zoo_preprocessing_is_bounded(name):
    """The check knows how far every zoo model's preprocessing enlarges an image."""
    preprocess = models.get_model_weights(name).DEFAULT.transforms()
    target = short_side_target(preprocess)
    assert target is not None and target >= preprocess.crop_size[0]
    assert preprocess_bytes((20000, 1), target) > 2**30


def test_uploaded_torchscript_preprocessing_is_bounded_too():
    assert short_side_target(GenericPreprocess(224, 3, (0.5,) * 3, (0.5,) * 3)) == 224


def test_the_page_says_why_and_keeps_the_view():
    at = choose_model(start(), "resnet18", "untrained")
    before = grid_spec(at)
    upload(at, "thin.png", encode(Image.new("RGB", (20000, 1), "white"), "PNG"))
    message = " ".join(e.value for e in at.error)
    assert "thin.png" in message and "long and thin" in message
    assert grid_spec(at) == before
