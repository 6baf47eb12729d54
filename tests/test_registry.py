"""A team's own architectures: listed by the server's owner in a TOML file (FEATVIZ_MODELS_FILE) or registered
from Python, built by import path, with their weights, preprocessing and class names, in everyone's picker."""

from __future__ import annotations

import textwrap

import pytest
import torch
from safetensors.torch import save_file

import featviz_core as fv
from featviz_core.models import _registry as registry
from featviz_core.models._registry import registered_models, registry_problem
from tests.support.apptest import choose_model, start, title
from tests.support.team_models import build_cats

CLASSES = ["tabby", "siamese", "persian", "sphynx", "maine coon"]


@pytest.fixture
def models_file(tmp_path, setting):
    """A models file as an owner writes it: paths beside it, the team's package importable on the server."""
    torch.manual_seed(3)
    net = build_cats(num_classes=5, width=8)
    net.stem[0].weight.data.fill_(0.125)
    save_file(net.state_dict(), str(tmp_path / "cats-v3.safetensors"))
    (tmp_path / "cats.txt").write_text("\n".join(CLASSES))
    path = tmp_path / "models.toml"
    path.write_text(textwrap.dedent('''
        [[model]]
        name = "cats-v3"
        factory = "tests.support.team_models:build_cats"
        kwargs = { num_classes = 5, width = 8 }
        weights = "cats-v3.safetensors"
        input_size = 96
        mean = [0.5, 0.5, 0.5]
        std = [0.25, 0.25, 0.25]
        labels = "cats.txt"

        [[model]]
        name = "cats-sketch"
        factory = "tests.support.team_models:build_cats"
    '''))
    setting("FEATVIZ_MODELS_FILE", str(path))
    return path, net


def test_a_listed_model_is_built_by_import_path_with_its_weights_and_settings(models_file, one_torch_thread):
    _, net = models_file
    names = fv.available_models()
    assert names[1:3] == ["cats-v3", "cats-sketch"]  # after the digits CNN, before the zoo
    model = fv.load_model("cats-v3", device="cpu")
    assert model.trained and model.weights == "cats-v3.safetensors" and model.source == "registered"
    assert model.categories == tuple(CLASSES) and model.mean == (0.5, 0.5, 0.5)
    image = fv.load_sample("Cat (Chelsea)")
    x = model.preprocess(image)
    assert x.shape == (3, 96, 96)
    maps = fv.capture(model, image)
    with torch.inference_mode():
        assert torch.equal(maps["block"].tensor, net.block(net.stem(x[None]))[0])
    assert [label for label, _ in fv.predict(model, maps)][0] in CLASSES
    with pytest.raises(fv.ModelError, match="No weights file is listed for cats-sketch"):
        fv.load_model("cats-sketch")
    assert not fv.load_model("cats-sketch", weights=None).trained


@pytest.mark.parametrize("text, words", [
    ('[[model]]\nname = "x"\nfactory = "no_such_package.models:build"', ["cannot be imported", "Install"]),
    ('[[model]]\nname = "x"\nfactory = "tests.support.team_models:nothing"', ["has no nothing"]),
    ('[[model]]\nname = "x"\nfactory = "tests.support.team_models:not_a_model"', ["returned a str"]),
    ('[[model]]\nname = "x"\nfactory = "tests.support.team_models:build_cats"\nweights = "gone.pth"',
     ["not at", "gone.pth"]),
])
def test_a_model_the_server_cannot_build_says_why(text, words, tmp_path, setting):
    (tmp_path / "models.toml").write_text(text)
    setting("FEATVIZ_MODELS_FILE", str(tmp_path / "models.toml"))
    with pytest.raises(fv.ModelError) as caught:
        fv.load_model("x", weights=None if "weights" not in text else "default")
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_a_broken_models_file_is_reported_and_the_rest_still_works(tmp_path, setting):
    (tmp_path / "models.toml").write_text('[[model]]\nname = "x"\nfactory = broken')
    setting("FEATVIZ_MODELS_FILE", str(tmp_path / "models.toml"))
    assert "not valid TOML" in registry_problem()
    assert "resnet18" in fv.available_models()
    (tmp_path / "models.toml").write_text('[[model]]\nname = "x"\nfactry = "a:b"')
    assert "unknown keys ['factry']" in registry_problem()
    at = start()
    assert any("models file cannot be used" in w.value for w in at.sidebar.warning)


def test_a_model_registered_from_python_is_offered_too(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})  # this test's registration ends with it
    fv.register_model("cats-py", build_cats, input_size=(64, 80), channels=3, labels=CLASSES,
                      kwargs={"num_classes": 5})
    assert "cats-py" in registered_models() and "cats-py" in fv.available_models()
    model = fv.load_model("cats-py", weights=None)
    assert model.preprocess(fv.load_sample("Cat (Chelsea)")).shape == (3, 64, 80)
    assert model.categories == tuple(CLASSES)


def test_the_dashboard_lists_the_teams_models_and_uses_their_weights(models_file):
    at = choose_model(start(), "cats-v3")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert title(at).startswith("stem.0 · Conv2d · all 8 channels of 96×96")
    assert "cats-v3 · cats-v3.safetensors" in title(at)
    assert [m.value for m in at.metric][0] in CLASSES
    at = choose_model(at, "cats-sketch")
    sidebar_errors = " ".join(e.value for e in at.sidebar.error)
    assert "FEATVIZ_MODELS_FILE" in sidebar_errors  # no weights listed: say who can fix it, offer untrained
    at.sidebar.button(key="use_untrained").click().run()
    assert "cats-sketch · UNTRAINED" in title(at)
