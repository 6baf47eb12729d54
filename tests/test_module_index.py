"""The module index a capture keeps beside each model: reused while the model is unchanged, rebuilt when a
notebook user replaces, adds or renames a submodule, so a capture never names a layer after a stale tree."""

from __future__ import annotations

import torch
from torch import nn

import featviz_core as fv
from featviz_core.capturing._module_index import module_index


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(4, 2, 3), nn.ReLU())).eval()


def test_index_is_reused_while_the_model_is_unchanged() -> None:
    model = _model()
    first = module_index(model)
    assert module_index(model) is first
    assert first.names[id(model[2][0])] == "2.0"
    assert list(first.order) == [name for name, _ in model.named_modules() if name]
    assert first.types["2.1"] == "ReLU"
    assert not first.fast_path


def test_index_follows_a_replaced_added_or_renamed_submodule() -> None:
    model = _model()
    before = module_index(model)
    model[2][1] = nn.Tanh()
    replaced = module_index(model)
    assert replaced is not before and replaced.types["2.1"] == "Tanh"
    model.add_module("3", nn.Flatten())
    assert module_index(model).types["3"] == "Flatten"
    inner = model[2]
    del model._modules["2"]
    model._modules["block"] = inner  # a rename that keeps every module object
    renamed = module_index(model)
    assert renamed.names[id(inner[0])] == "block.0" and "2.0" not in renamed.order


def test_capture_after_a_change_names_the_new_layers() -> None:
    model = _model()
    x = torch.rand(1, 8, 8)
    assert list(fv.capture(model, x)) == ["0", "1", "2", "2.0", "2.1"]
    model[2][1] = nn.Sigmoid()
    maps = fv.capture(model, x)
    assert maps["2.1"].module_type == "Sigmoid"
    assert torch.equal(maps["2.1"].tensor, torch.sigmoid(maps["2.0"].tensor))


def test_attention_models_are_known_to_need_copies_at_once() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)).eval()
    assert module_index(model).fast_path
