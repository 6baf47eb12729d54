"""The README's Python example runs as written (with the files it names made in a temporary folder)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import plotly.graph_objects as go
import torch
import torchvision

import featviz_core as fv

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has a Python example"
    fv.load_sample("Cat (Chelsea)").save(tmp_path / "photo.jpg")
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "weights.pth")
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(fv.load_model("digits_cnn").module.cpu()), buffer)
    (tmp_path / "model.pt").write_bytes(buffer.getvalue())
    digits = fv.load_model("digits_cnn").module.cpu()
    torch.onnx.export(digits, (torch.zeros(1, 1, 28, 28),), tmp_path / "model.onnx", verbose=False)  # and .data
    (tmp_path / "labels.txt").write_text("\n".join("zero one two three four five six seven eight nine".split()))
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda figure, *a, **k: shown.append(figure))  # no browser in tests
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["maps"]["layer1.0.conv1"].shape == (64, 56, 56)
    assert len(shown) == 1 and shown[0].layout.meta["featviz"]["channels_total"] == 64
    assert namespace["mine"].weights.startswith("uploaded weights.pth")
    assert len(namespace["scripted"].preprocess(namespace["image"]).shape) == 3
    assert namespace["onnx_maps"]["node_conv2d"].shape == (32, 26, 26)
    assert {label for label, _ in fv.predict(namespace["mine_onnx"], namespace["onnx_maps"])} >= {"seven", "zero"}
