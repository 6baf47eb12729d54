"""timm's models beside torchvision's: listed in the picker, weights from Hugging Face's cache through timm's own
loader (seeded here with files the test writes, since there is no network), timm's preprocessing, the same
offline message and choices; safetensors weights wherever a state dict is accepted."""

from __future__ import annotations

import io

import pytest
import torch
import torchvision
from safetensors.torch import save as save_safetensors

import featviz_core as fv
from featviz_core.models._weights import main as weights_main
from featviz_core.models._weights import weights_file
from tests.support.apptest import choose_model, start, title
from tests.support.weights import seed_timm

NAME = "timm/resnet18.a1_in1k"


def test_hundreds_of_timm_models_are_listed_beside_torchvisions():
    names = fv.available_models()
    timm_names = [name for name in names if name.startswith("timm/")]
    assert len(timm_names) > 1000 and NAME in timm_names and "timm/convnext_tiny.fb_in1k" in timm_names
    assert names.index("resnet18") < names.index(NAME)  # torchvision's zoo first, then timm's


def test_cached_weights_load_through_timms_loader_with_timms_preprocessing(torch_home, one_torch_thread):
    seed_timm(torch_home, NAME, marker=0.25)
    model = fv.load_model(NAME, download=False)
    assert model.trained and model.weights == "a1_in1k" and model.source == "timm"
    assert torch.all(model.module.conv1.weight == 0.25)  # the cached file's weights, not random ones
    assert model.categories[:2] == ("tench", "goldfish") and len(model.categories) == 1000
    resize, crop = model.preprocess.transforms[:2]  # timm's data config for resnet18.a1_in1k
    assert (resize.size, str(resize.interpolation.value), crop.size) == (235, "bicubic", (224, 224))
    image = fv.load_sample("Cat (Chelsea)")
    maps = fv.capture(model, image)
    with torch.inference_mode():
        features = model.module.forward_features(model.preprocess(image)[None])[0]
    assert torch.equal(maps["layer4"].tensor, features)  # the capture is what timm computes
    assert maps["conv1"].module_type == "Conv2d" and len(maps) > 60


def test_missing_weights_say_how_to_fetch_them_and_untrained_works_offline(one_torch_thread):
    file = weights_file(NAME)
    assert not file.is_cached and "python -m featviz_core weights fetch timm/resnet18.a1_in1k" in file.how_to_get
    with pytest.raises(fv.WeightsUnavailableError) as caught:
        fv.load_model(NAME, download=False)
    assert "weights fetch timm/resnet18.a1_in1k" in str(caught.value)
    untrained = fv.load_model(NAME, weights=None)
    assert not untrained.trained and "UNTRAINED" in untrained.label


def test_weights_status_command_finds_timm_weights_in_hugging_faces_cache(torch_home, capsys):
    assert weights_main(["status", NAME]) == 1
    assert "not cached" in capsys.readouterr().out
    path = seed_timm(torch_home, NAME)
    assert weights_main(["status", NAME]) == 0
    assert f"{NAME} a1_in1k: cached, {path}" in capsys.readouterr().out


def test_the_dashboard_offers_the_same_choices_for_timm_and_uses_cached_weights(torch_home):
    at = choose_model(start(), NAME)
    sidebar_errors = " ".join(e.value for e in at.sidebar.error)
    assert "model.safetensors" in sidebar_errors and "weights fetch timm/resnet18.a1_in1k" in sidebar_errors
    at.sidebar.button(key="use_untrained").click().run()
    assert not at.exception and title(at).startswith("conv1 · Conv2d") and "UNTRAINED" in title(at)
    seed_timm(torch_home, NAME)  # copied into the cache, as a fetch while online would: seen on the next run
    at.sidebar.radio(key="weights").set_value("pretrained").run()
    assert not at.exception and "timm/resnet18.a1_in1k · a1_in1k" in title(at)


def _safetensors(module: torch.nn.Module, marker: float) -> bytes:
    state = {key: value.clone().contiguous() for key, value in module.state_dict().items()}
    first = next(key for key, value in state.items() if value.dim() == 4)
    state[first].fill_(marker)
    return save_safetensors(state)


@pytest.mark.parametrize("name, build", [
    ("resnet18", lambda: torchvision.models.resnet18(weights=None)),
    (NAME, lambda: fv.load_model(NAME, weights=None).module),
    ("digits_cnn", lambda: fv.load_model("digits_cnn").module),
])
def test_safetensors_weights_are_accepted_wherever_a_state_dict_is(name, build):
    model = fv.load_with_state_dict(name, _safetensors(build(), 0.5), "mine.safetensors", device="cpu")
    first = next(p for p in model.module.parameters() if p.dim() == 4)
    assert torch.all(first == 0.5) and model.weights.startswith("uploaded mine.safetensors")


def test_a_damaged_safetensors_file_is_explained():
    data = _safetensors(torchvision.models.resnet18(weights=None), 0.5)
    with pytest.raises(fv.ModelError, match="not a readable safetensors file"):
        fv.load_with_state_dict("resnet18", data[: len(data) // 2], "cut.safetensors")
    buffer = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, buffer)
    with pytest.raises(fv.ModelError, match="does not fit resnet18"):  # a torch.save file, still read as before
        fv.load_with_state_dict("resnet18", buffer.getvalue(), "small.pth")
