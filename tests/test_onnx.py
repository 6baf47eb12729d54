"""ONNX models: exported from torch in the test with both exporters, run with onnxruntime, every node's output
captured and equal to the torch layer it came from; channels-last graphs turned around; bad files explained."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

import featviz_core as fv
from featviz_core.models._labels import read_labels
from featviz_core.models._onnx import image_input
from tests.support.apptest import choose_model, start, title

TOLERANCE = 1e-5
"""Largest difference from torch's own values, relative to the layer's largest value (float32 rounding in
another runtime's kernels; a wrong or shifted map differs by far more)."""
IR_VERSION = 10
"""What current exporters write (onnx's own helper writes its newest, which onnxruntime may not read yet)."""
DIGITS_LAYERS = {"Conv": ["conv1", "conv2"], "Relu": ["relu1", "relu2", "relu3"], "MaxPool": ["pool1", "pool2"],
                 "Gemm": ["fc1", "fc2"]}


def difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max()) / max(1.0, float(theirs.abs().max()))


def export(module: nn.Module, example: torch.Tensor, dynamo: bool, folder: Path | None = None):
    """(graph bytes, {weights file name: bytes}) as torch.onnx.export writes them, with its defaults."""
    module = module.cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's notice
        if dynamo and folder is not None:  # to a file: the weights go beside it, as users get by default
            path = folder / "model.onnx"
            torch.onnx.export(module, (example,), path, dynamo=True, verbose=False)
            return path.read_bytes(), {f.name: f.read_bytes() for f in folder.iterdir() if f.name != "model.onnx"}
        buffer = io.BytesIO()
        torch.onnx.export(module, (example,), buffer, dynamo=dynamo, verbose=False, external_data=False)
        return buffer.getvalue(), {}


@pytest.fixture(scope="module")
def digits():
    return fv.load_model("digits_cnn", device="cpu")


@pytest.mark.parametrize("dynamo", [pytest.param(True, marks=pytest.mark.slow),  # the dynamo exporter: about 1.5 s
                                    False], ids=["dynamo", "torchscript-exporter"])
def test_every_layer_of_an_exported_model_equals_torchs_own(digits, dynamo, tmp_path, one_torch_thread):
    x = digits.preprocess(fv.load_sample("Handwritten 3"))
    data, external = export(digits.module, x[None], dynamo, tmp_path)
    assert bool(external) == dynamo  # the new exporter keeps weights in model.onnx.data by default
    model = fv.load_onnx(data, "digits.onnx", external=external)
    assert model.extra["layout"] == "NCHW" and model.extra["input_size"] == (28, 28) and model.extra["channels"] == 1
    ours, theirs = fv.capture(model, x), fv.capture(digits, x)
    by_type: dict[str, list[str]] = {}
    for name in ours:
        by_type.setdefault(ours[name].module_type, []).append(name)
    for op_type, torch_layers in DIGITS_LAYERS.items():
        assert len(by_type[op_type]) == len(torch_layers), (op_type, by_type)
        for node, layer in zip(by_type[op_type], torch_layers, strict=True):
            assert ours[node].shape == theirs[layer].shape
            assert difference(ours[node].tensor, theirs[layer].tensor) <= TOLERANCE, (node, layer)
    assert difference(ours.output, theirs.output) <= TOLERANCE
    assert model.num_params == digits.num_params


class ChannelsLast(nn.Module):
    """A network fed (N, H, W, C), as Keras and TensorFlow models are: its ONNX graph transposes inside."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.relu(self.conv(x.permute(0, 3, 1, 2)))
        back = maps.permute(0, 2, 3, 1)  # channels last again, as a TF graph would carry them
        return self.head(back.mean(dim=(1, 2)))


def test_a_channels_last_graph_is_read_as_such_and_its_maps_turned_around(one_torch_thread):
    torch.manual_seed(0)
    net = ChannelsLast().eval()
    data, _ = export(net, torch.randn(1, 32, 32, 3), dynamo=False)
    model = fv.load_onnx(data, "nhwc.onnx")
    assert model.extra["layout"] == "NHWC" and model.extra["input_size"] == (32, 32) and model.extra["channels"] == 3
    x = model.preprocess(fv.load_sample("Cat (Chelsea)"))
    maps = fv.capture(model, x)
    with torch.inference_mode():
        conv = torch.relu(net.conv(x[None]))[0]
    relus = [name for name in maps if maps[name].module_type == "Relu"]
    assert maps[relus[0]].shape == (8, 30, 30)
    assert difference(maps[relus[0]].tensor, conv) <= TOLERANCE
    transposed_back = [name for name in maps if maps[name].module_type == "Transpose"][-1]
    assert maps[transposed_back].shape == (8, 30, 30)  # an NHWC value, shown channels first like the rest


def test_nodes_that_only_compute_on_weights_are_no_layers(digits):
    data, _ = export(digits.module, torch.zeros(1, 1, 28, 28), dynamo=False)
    maps = fv.capture(fv.load_onnx(data, "digits.onnx"), fv.load_sample("Handwritten 7"))
    assert {maps[name].module_type for name in maps} == {"Conv", "Relu", "MaxPool", "Flatten", "Gemm"}


def _graph(inputs: list, nodes: list, outputs: list, opset: int = 17) -> bytes:
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs), ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


def _tensor(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _relu(shape: list) -> bytes:
    """The smallest image model: one ReLU on an input of ``shape``."""
    return _graph([_tensor("x", shape)], [helper.make_node("Relu", ["x"], ["y"])], [_tensor("y", shape)])


@pytest.mark.parametrize(
    "files, words",
    [
        ({"model.onnx": b"not a graph at all"}, ["is not an ONNX model", "torch.onnx.export"]),
        ({"model.onnx": b"PK\x03\x04 a zip"}, ["is not an ONNX model"]),
        ("two inputs", ["one image input", "this graph has 2"]),
        ("a vector input", ["2 dimensions", "(N, C, H, W)"]),
        ("custom operator", ["onnxruntime", "cannot run", "opset"]),
        ("too new", ["IR version 99", "older exporter"]),
        ("external data missing", ["model.onnx.data", "Upload that file", "external_data=False"]),
    ],
)
def test_a_file_featviz_cannot_run_is_explained(files, words, digits, tmp_path):
    external: dict[str, bytes] = {}
    if files == "two inputs":
        data = _graph([_tensor("a", [1, 3, 8, 8]), _tensor("b", [1, 3, 8, 8])],
                      [helper.make_node("Add", ["a", "b"], ["c"])], [_tensor("c", [1, 3, 8, 8])])
    elif files == "a vector input":
        data = _graph([_tensor("a", [1, 10])], [helper.make_node("Relu", ["a"], ["c"])], [_tensor("c", [1, 10])])
    elif files == "custom operator":
        model = helper.make_model(
            helper.make_graph([helper.make_node("Glow", ["a"], ["c"], domain="com.example")], "g",
                              [_tensor("a", [1, 3, 8, 8])], [_tensor("c", [1, 3, 8, 8])]),
            ir_version=IR_VERSION, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
        data = model.SerializeToString()
    elif files == "too new":
        model = onnx.load_model_from_string(_relu([1, 3, 8, 8]))
        model.ir_version = 99
        data = model.SerializeToString()
    elif files == "external data missing":
        data, external = export(digits.module, torch.zeros(1, 1, 28, 28), dynamo=True, folder=tmp_path)
        external = {}
    else:
        data = files["model.onnx"]
    with pytest.raises(fv.ModelError) as caught:
        fv.load_onnx(data, "model.onnx", external=external)
    message = str(caught.value)
    assert all(word in message for word in words), message


def test_an_open_input_size_is_chosen_and_a_fixed_one_kept():
    data = _relu(["batch", 3, "h", "w"])
    assert image_input(onnx.load_model_from_string(data).graph).height is None
    assert fv.load_onnx(data, "open.onnx").extra["input_size"] == (224, 224)  # colour: ImageNet's size
    model = fv.load_onnx(data, "open.onnx", input_size=64, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert model.preprocess(fv.load_sample("Cat (Chelsea)")).shape == (3, 64, 64)
    fixed = _relu([1, 1, 28, 28])
    with pytest.raises(fv.ModelError, match="28×28 inputs only"):
        fv.load_onnx(fixed, "fixed.onnx", input_size=64)
    with pytest.raises(fv.ModelError, match="one mean and one positive std per channel"):
        fv.load_onnx(fixed, "fixed.onnx", mean=(0.5, 0.5, 0.5))
    inverted = fv.load_onnx(fixed, "fixed.onnx", invert=True).preprocess(fv.load_sample("Handwritten 7"))
    plain = fv.load_onnx(fixed, "fixed.onnx").preprocess(fv.load_sample("Handwritten 7"))
    assert torch.allclose(inverted, 1 - plain)


def test_labels_files_in_the_formats_zoos_ship():
    assert read_labels(b"cat\ndog\r\nbird\n\n") == ("cat", "dog", "bird")
    assert read_labels(b'["cat", "dog"]', "l.json") == ("cat", "dog")
    assert read_labels(b'{"1": "dog", "0": "cat"}', "l.json") == ("cat", "dog")
    assert read_labels(b'{"0": ["n01440764", "tench"]}', "imagenet_class_index.json") == ("tench",)
    bad_files = [(b"\xff\xfe\x00bin", "not text"), (b"{broken", "not valid JSON"), (b'{"0": "a", "2": "b"}', "gaps"),
                 (b"", "no class names")]
    for bad, words in bad_files:
        with pytest.raises(fv.ModelError, match=words):
            read_labels(bad, "labels")


@pytest.mark.slow  # exports the digits model and runs it through the page: 2 to 3 s
def test_an_uploaded_onnx_model_is_shown_named_and_kept_and_a_bad_one_keeps_it(digits, tmp_path):
    data, external = export(digits.module, torch.zeros(1, 1, 28, 28), dynamo=True, folder=tmp_path)
    files = [("model.onnx", data, "application/octet-stream")] + [(n, b, "application/octet-stream")
                                                                 for n, b in external.items()]
    at = choose_model(start(), "Your own model (ONNX)")
    at.sidebar.file_uploader(key="onnx").set_value(files).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert title(at).startswith("node_conv2d · Conv · all 32 channels of 26×26")
    assert "1 channel(s), 28×28, NCHW" in " ".join(c.value for c in at.sidebar.caption)
    names = "zero one two three four five six seven eight nine".split()
    at.sidebar.file_uploader(key="onnx_labels").set_value(("labels.txt", "\n".join(names).encode(), "text/plain"))
    at.sidebar.checkbox(key="onnx_invert").check().run()  # MNIST's light ink on dark, as the model was trained
    assert not at.exception and not at.error
    assert [m.value for m in at.metric][0] == "seven"
    at.sidebar.selectbox(key="layer").set_value("node_linear_1").run()
    assert title(at).startswith("node_linear_1 · Gemm · all 10 values")
    at.switch_page("pages/compare_layers.py").run()  # kept for the session, on every page
    assert not at.exception and not at.error
    at.switch_page("pages/explore.py").run()
    at.sidebar.file_uploader(key="onnx").set_value([("model.onnx", data, "application/octet-stream")]).run()
    errors = " ".join(e.value for e in at.error)
    assert "model.onnx.data" in errors and "Upload that file" in errors  # said plainly ...
    assert title(at).startswith("node_linear_1 · Gemm")  # ... and the model that worked stays on screen
