"""Weights and models people bring: checked, never unpickled beyond weights_only, captured like any other."""

from __future__ import annotations

import io

import pytest
import torch
import torchvision

import featviz_core as fv
from featviz_core import settings
from featviz_core.models._state_dict import check_state_dict, read_state_dict
from tests.support.capture import assert_concurrent_captures_match, hook_count


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def scripted(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


def test_state_dict_for_the_architecture_is_loaded_and_labelled():
    torch.manual_seed(3)
    source = torchvision.models.squeezenet1_1(weights=None)
    model = fv.load_with_state_dict("squeezenet1_1", saved(source.state_dict()), "mine.pth")
    loaded, saved_state = model.module.state_dict(), source.state_dict()
    assert list(loaded) == list(saved_state)
    assert all(torch.equal(loaded[name], saved_state[name]) for name in loaded)
    assert model.trained and model.weights.startswith("uploaded mine.pth (sha256 ")
    assert model.source == "upload" and len(model.categories) == 1000


def test_checkpoint_wrappers_and_data_parallel_prefixes_are_understood():
    state = fv.load_model("digits_cnn").module.state_dict()
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    model = fv.load_with_state_dict("digits_cnn", saved(wrapped), "ckpt.pth")
    assert torch.equal(model.module.conv1.weight, state["conv1.weight"])
    assert "featviz digits (bundled), uploaded as ckpt.pth" == model.weights


def test_a_fine_tuned_classifier_head_is_accepted_with_its_class_count():
    fine_tuned = torchvision.models.resnet18(weights=None, num_classes=5)
    model = fv.load_with_state_dict("resnet18", saved(fine_tuned.state_dict()), "five.pth")
    assert model.module.fc.out_features == 5 and model.categories == tuple(f"class {i}" for i in range(5))
    assert len(fv.predict(model, fv.load_sample("Checkerboard"))) == 5


def test_wrong_architecture_lists_missing_unexpected_and_mismatched():
    state = torchvision.models.resnet18(weights=None).state_dict()
    state["conv1.weight"] = torch.zeros(8, 3, 7, 7)
    del state["fc.bias"]
    state["extra.weight"] = torch.zeros(1)
    report = check_state_dict(torchvision.models.resnet18(weights=None), state)
    assert report.missing == ("fc.bias",) and report.unexpected == ("extra.weight",)
    assert report.mismatched == (("conv1.weight", (64, 3, 7, 7), (8, 3, 7, 7)),)
    text = report.summary()
    assert "1 missing: fc.bias" in text and "conv1.weight expects 64×3×7×7, file has 8×3×7×7" in text
    with pytest.raises(fv.ModelError, match="does not fit resnet18"):
        fv.load_with_state_dict("resnet18", saved(state), "bad.pth")


def test_a_pickled_full_model_is_refused_in_plain_words_with_torchs_text_apart():
    with pytest.raises(fv.ModelError, match="does not unpickle") as raised:
        read_state_dict(saved(fv.load_model("digits_cnn").module), "whole.pth")
    message, detail = str(raised.value), raised.value.detail
    assert "`featviz_core.models._digits.DigitsCNN`" in message  # the class it holds, named for the person
    assert "Weights only load failed" not in message and "\x1b[" not in message
    assert "Weights only load failed" in detail and "\x1b[" not in detail  # torch's words, without terminal codes


@pytest.mark.parametrize(
    ("data", "phrase", "not_said"),
    [
        (b"garbage" * 10, "not a TorchScript model featviz can load", "looks like weights"),
        (None, "looks like weights saved with torch.save", "damaged"),
    ],
)
def test_a_file_that_is_no_torchscript_model_is_told_apart_in_plain_words(data, phrase, not_said):
    data = data if data is not None else saved(fv.load_model("digits_cnn").module.state_dict())
    with pytest.raises(fv.ModelError, match=phrase) as raised:
        fv.load_torchscript(data, "model.pt")
    assert not_said not in str(raised.value) and "torch.jit.save" in str(raised.value)
    assert raised.value.detail  # what torch.jit.load said, for whoever wants it


def test_an_unreadable_checkpoint_keeps_torchs_words_out_of_the_message():
    with pytest.raises(fv.ModelError, match="not a readable PyTorch checkpoint") as raised:
        read_state_dict(saved(fv.load_model("digits_cnn").module.state_dict())[:5000], "cut.pth")
    library_words = raised.value.detail.split(": ", 1)[1]  # e.g. "negative seek value -3189"
    assert library_words and library_words not in str(raised.value)
    assert "torch.save(model.state_dict()" in str(raised.value)  # what to do


def test_weights_that_do_not_fit_are_counted_in_the_message_and_listed_in_the_detail():
    state = fv.load_model("digits_cnn").module.state_dict()
    with pytest.raises(fv.ModelError, match="does not fit resnet18: .*missing.*unexpected") as raised:
        fv.load_with_state_dict("resnet18", saved(state), "digits.pth")
    assert "conv1.weight" in raised.value.detail


def test_a_pickled_full_model_is_refused_without_running_it():
    class Boom(torch.nn.Module):
        def __reduce__(self):  # what a malicious pickle would do on load
            return (exec, ("raise SystemExit('unpickled!')",))

    for payload in (saved(fv.load_model("digits_cnn").module), saved(Boom())):
        with pytest.raises(fv.ModelError, match="does not unpickle"):
            read_state_dict(payload, "whole.pth")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"garbage" * 10, "not a readable PyTorch checkpoint"),
        (None, "TorchScript model, not a state dict"),
    ],
)
def test_unusable_weights_files_get_a_clear_message(data, message):
    if data is None:
        data = scripted(fv.load_model("digits_cnn").module.cpu())
    with pytest.raises(fv.ModelError, match=message):
        read_state_dict(data, "file.pth")


def test_torchscript_capture_equals_the_python_models_capture():
    python_model = torchvision.models.resnet18(weights=None).eval()
    model = fv.load_torchscript(scripted(python_model), "r18.pt")
    image = fv.load_sample("Coffee cup")
    from_script = fv.capture(model, image)
    from_python = fv.capture(python_model, model.preprocess(image))
    assert list(from_script) == list(from_python)
    for key in from_python:
        assert torch.allclose(from_script[key].tensor, from_python[key].tensor, atol=1e-5), key
        assert from_script[key].module_type == from_python[key].module_type
    assert (model.extra["input_size"], model.extra["channels"]) == (224, 3)


def test_torchscript_infers_grayscale_input_and_reports_a_wrong_size_with_the_models_own_error():
    model = fv.load_torchscript(scripted(fv.load_model("digits_cnn").module.cpu()), "digits.pt")
    assert (model.extra["input_size"], model.extra["channels"]) == (28, 1)
    assert fv.predict(model, fv.load_sample("Handwritten 5"))[0][0] == "class 5"
    too_big = fv.load_torchscript(scripted(fv.load_model("digits_cnn").module.cpu()), "digits.pt", input_size=64)
    with pytest.raises(fv.ModelError, match="could not run on this input") as raised:
        fv.capture(too_big, fv.load_sample("Handwritten 5"))
    assert "input size or number of channels" in str(raised.value) and "mat1" not in str(raised.value)
    assert "mat1 and mat2 shapes cannot be multiplied" in raised.value.detail  # the model's own error, kept apart


def test_concurrent_torchscript_captures_do_not_mix(tiny_model):
    model = fv.load_torchscript(scripted(tiny_model), "tiny.pt")
    images = [torch.randn(3, 20, 20, generator=torch.Generator().manual_seed(i)) for i in range(6)]
    assert_concurrent_captures_match(model, images)


def test_torchscript_upload_can_be_turned_off(setting):
    setting("FEATVIZ_ALLOW_TORCHSCRIPT", "0")
    assert not settings.current().allow_torchscript
    with pytest.raises(fv.ModelError, match="FEATVIZ_ALLOW_TORCHSCRIPT"):
        fv.load_torchscript(b"PK", "x.pt")


def test_python_models_still_get_no_leftover_hooks_after_torchscript_support(tiny_model):
    fv.capture(tiny_model, torch.randn(3, 8, 8))
    assert hook_count(tiny_model) == 0


@pytest.mark.slow  # a fresh interpreter importing torch and featviz: about 3.5 s
def test_torchscript_capture_survives_a_fresh_import_of_featviz_core():
    """Streamlit re-imports the package when its files change; the operator must not be defined twice."""
    import subprocess
    import sys

    code = (
        "import io, sys, warnings, torch\n"
        "warnings.simplefilter('ignore')\n"
        "import featviz_core\n"
        "for name in [n for n in sys.modules if n.startswith('featviz_core')]: del sys.modules[name]\n"
        "import featviz_core as fv\n"
        "buffer = io.BytesIO(); torch.jit.save(torch.jit.script(fv.load_model('digits_cnn').module.cpu()), buffer)\n"
        "model = fv.load_torchscript(buffer.getvalue(), 'x.pt')\n"
        "print(len(fv.capture(model, fv.load_sample('Handwritten 3'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "10"
