"""What each model source may run, as the table in docs/limits-and-safety.md (*Model sources*) says: a
torch.export archive is refused wherever it is given (loading one unpickles), TorchScript's deprecation is told
to the person rather than hidden, and a file given to the wrong box is named for what it is."""

from __future__ import annotations

import io

import pytest
import torch

import featviz_core as fv
from tests.support.apptest import choose_model, start


@pytest.fixture(scope="module")
def pt2(tmp_path_factory) -> bytes:
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)).eval()
    path = tmp_path_factory.mktemp("pt2") / "net.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(1, 1, 8, 8),)), path)
    return path.read_bytes()


def test_a_torch_export_archive_is_refused_as_model_and_as_weights(pt2):
    for load in (lambda: fv.load_torchscript(pt2, "net.pt2"), lambda: fv.load_with_state_dict("resnet18", pt2, "x.pt")):
        with pytest.raises(fv.ModelError) as caught:
            load()
        assert "torch.export archive" in str(caught.value) and "torch.onnx.export" in str(caught.value)


def test_torchscripts_deprecation_is_told_not_hidden():
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(fv.load_model("digits_cnn").module.cpu()), buffer)
    model = fv.load_torchscript(buffer.getvalue(), "digits.pt")
    assert "deprecated" in model.extra["deprecation"]  # torch's own words, kept
    at = choose_model(start(), "Your own model (TorchScript)")
    at.sidebar.file_uploader(key="own_model").set_value(("digits.pt", buffer.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.error and any("TorchScript is deprecated" in box.value and "ONNX" in box.value
                                for box in at.sidebar.info)


def test_an_onnx_file_in_the_torchscript_box_is_named_for_what_it_is(tmp_path):
    digits = fv.load_model("digits_cnn").module.cpu()
    torch.onnx.export(digits, (torch.zeros(1, 1, 28, 28),), tmp_path / "m.onnx", external_data=False, verbose=False)
    with pytest.raises(fv.ModelError, match="is an ONNX model, not a TorchScript one"):
        fv.load_torchscript((tmp_path / "m.onnx").read_bytes(), "m.pt")


def test_fine_tuned_weights_with_a_labels_file_predict_by_name():
    import torchvision

    buffer = io.BytesIO()
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), buffer)
    at = choose_model(start(), "resnet18", "upload")
    at.sidebar.file_uploader(key="weights_file").set_value(("pets.pth", buffer.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.error and [m.value for m in at.metric][0].startswith("class ")
    labels = ("pets.json", b'["cat", "dog", "bird"]', "application/json")
    at.sidebar.file_uploader(key="weights_labels").set_value(labels)
    at.run()
    assert not at.error and [m.value for m in at.metric][0] in ("cat", "dog", "bird")


def test_a_labels_file_for_another_model_is_said_to_be_so():
    import torchvision

    buffer = io.BytesIO()
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), buffer)
    at = choose_model(start(), "resnet18", "upload")
    at.sidebar.file_uploader(key="weights_file").set_value(("pets.pth", buffer.getvalue(), "application/octet-stream"))
    at.run()
    ten = ("ten.txt", "\n".join("abcdefghij").encode(), "text/plain")
    at.sidebar.file_uploader(key="weights_labels").set_value(ten)
    at.run()
    notes = " ".join(w.value for w in at.warning) + " ".join(i.value for i in at.info)
    assert "are 10, but it gives 3 scores" in notes, notes
