"""The Python examples in the README and docs/ run as written (with the files they name made in a temporary
folder): the README's own, then each docs page's in file order (docs/your-own-model.md's ONNX and registry
examples)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import plotly.graph_objects as go
import torch
import torchvision

import featviz_core as fv

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


def test_readme_python_example_runs(tmp_path, monkeypatch):
    assert python_blocks(README), "the README has a Python example"
    assert python_blocks(ROOT / "docs" / "your-own-model.md"), "docs/your-own-model.md has the ONNX example"
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
    for page in PAGES:
        for block in python_blocks(page):
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["maps"]["layer1.0.conv1"].shape == (64, 56, 56)
    assert len(shown) == 1 and shown[0].layout.meta["featviz"]["channels_total"] == 64
    assert namespace["mine"].weights.startswith("uploaded weights.pth")
    assert len(namespace["scripted"].preprocess(namespace["image"]).shape) == 3
    assert namespace["onnx_maps"]["node_conv2d"].shape == (32, 26, 26)
    assert {label for label, _ in fv.predict(namespace["mine_onnx"], namespace["onnx_maps"])} >= {"seven", "zero"}
