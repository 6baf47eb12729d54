"""Dataset scans: per-channel statistics over a collection equal a brute-force pass image by image, merge in
any order to the same result, skip unreadable files without stopping, resume after an interruption, and are
saved as Parquet with a manifest and reopened."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import featviz_core as fv
from featviz_core import datasets
from featviz_core.errors import ImageError
from featviz_core.scan._cli import main as scan_main
from featviz_core.scan._results import list_scans, save
from featviz_core.scan._scan import scan, scan_key
from featviz_core.scan._tally import LayerTally, reduce, same


@pytest.fixture(scope="module")
def digits_model():
    return fv.load_model("digits_cnn", device="cpu")


def _subset(dataset: datasets.Dataset, count: int) -> datasets.Dataset:
    """``count`` items spread over the collection (the bundled digits are sorted by class)."""
    items = dataset.items[:: len(dataset) // count][:count]
    return datasets.Dataset(dataset.name, items, dataset.classes, dataset.fingerprint + str(count))


def test_a_tally_merged_in_any_order_equals_one_pass():
    generator = torch.Generator().manual_seed(0)
    maps = torch.randn(90, 6, 5, 5, generator=generator)
    maps[:, 2] = maps[:, 2].abs() * 0 - 1  # a channel that never fires
    maps[10, 3, 2, 2] = maps[40, 3, 1, 1] = 50.0  # a tie: the lower image ranks first
    images, labels = np.arange(90, dtype=np.int64), np.arange(90, dtype=np.int64) % 3
    whole = LayerTally.empty(6, 4, 3)
    whole.add(reduce(maps, 4), images, labels)
    parts = []
    order = np.random.default_rng(1).permutation(90)
    for chunk in (np.sort(order[:20]), np.sort(order[20:65]), np.sort(order[65:])):  # parts of any size and mix,
        # each in image order as a scan's batches are
        part = LayerTally.empty(6, 4, 3)
        part.add(reduce(maps[chunk], 4), images[chunk], labels[chunk])
        parts.append(part)
    a, b, c = parts
    assert same(whole, a.merge(b).merge(c)) and same(whole, a.merge(b.merge(c))) and same(whole, c.merge(a).merge(b))
    assert list(whole.top_image[3, :2]) == [10, 40]
    assert whole.never_active.tolist() == [False, False, True, False, False, False]
    assert whole.class_count.tolist() == [30, 30, 30]


def test_statistics_equal_a_brute_force_pass_image_by_image(digits_model, one_torch_thread):
    data = _subset(datasets.bundled(datasets.DIGITS), 120)
    result = scan(digits_model, data, ["conv2", "fc1"], batch_size=32, top_k=5)
    tally = result.tallies["conv2"]
    per_image = torch.stack([fv.capture(digits_model, fv.load_image(item.read()))["conv2"].tensor
                             for item in data.items])  # (120, 64, 11, 11)
    flat = per_image.flatten(2)
    assert int(tally.images) == 120 and not result.skipped
    np.testing.assert_allclose(tally.mean, flat.mean(-1).mean(0).double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tally.maximum, flat.amax((0, 2)).numpy(), rtol=1e-5)  # batched vs one by one
    np.testing.assert_allclose(tally.active_fraction, (flat > 0).float().mean(-1).mean(0).double().numpy(), rtol=1e-6)
    best = flat.amax(-1)  # (120, 64): each image's maximum per channel
    index = np.array([item.index for item in data.items])  # dataset indices of the subset's images
    for channel in (0, 17, 63):
        expected = torch.argsort(best[:, channel], descending=True, stable=True)[:5].numpy()
        assert tally.top_image[channel].tolist() == index[expected].tolist()
        np.testing.assert_allclose(tally.top_value[channel], best[expected, channel].numpy(), rtol=1e-5)
        row = int(expected[0])
        y, x = divmod(int(tally.top_position[channel, 0]), 11)
        assert per_image[row, channel, y, x] == best[row, channel]  # where the maximum is
    labels = np.array([item.label for item in data.items])
    for digit in (0, 3):
        expected = flat[labels == digit].mean(-1).mean(0).double().numpy()
        np.testing.assert_allclose(tally.class_mean[digit], expected, rtol=1e-5, atol=1e-6)


def test_memory_does_not_grow_with_the_collection(digits_model):
    small = scan(digits_model, _subset(datasets.bundled(datasets.DIGITS), 50), ["conv2"], batch_size=50)
    large = scan(digits_model, datasets.bundled(datasets.DIGITS), ["conv2"], batch_size=50)
    size = lambda result: sum(a.nbytes for a in result.tallies["conv2"].to_arrays().values())  # noqa: E731
    assert size(small) == size(large)


def _png(colour: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (colour, 0, 255 - colour)).save(buffer, format="PNG")
    return buffer.getvalue()


def _image_folder(root):
    for label in ("cats", "dogs"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            (root / label / f"{i}.png").write_bytes(_png(40 * i))
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "cats" / "notes.txt").write_text("not an image")
    return root


def test_unreadable_files_are_skipped_counted_and_listed_and_classes_come_from_folders(tmp_path):
    data = datasets.folder(_image_folder(tmp_path / "pets"))
    assert data.classes == ("cats", "dogs") and len(data) == 7  # the .txt is no image file
    result = scan(fv.load_model("resnet18", weights=None, device="cpu"), data, ["layer1"], batch_size=4)
    assert [name for name, _ in result.skipped] == ["dogs/broken.png"] and result.skipped[0][1]
    assert int(result.tallies["layer1"].images) == 6 and result.tallies["layer1"].class_count.tolist() == [3, 3]


def test_folders_are_read_only_under_the_configured_roots(tmp_path, setting):
    pets = _image_folder(tmp_path / "shared" / "pets")
    setting("FEATVIZ_DATA_ROOTS", str(tmp_path / "shared"))
    assert pets in datasets.allowed_folders()
    assert len(datasets.folder(pets, datasets.data_roots())) == 7
    with pytest.raises(ImageError, match="not under a folder this server allows"):
        datasets.folder(tmp_path, datasets.data_roots())


def test_a_zip_of_class_folders_is_a_labelled_collection(setting):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label in ("a", "b"):
            archive.writestr(f"set/{label}/1.png", _png(10))
        archive.writestr("__MACOSX/set/a/._1.png", b"junk")
    data = datasets.zip_archive(buffer.getvalue(), "set.zip")
    assert data.classes == ("a", "b") and [item.name for item in data.items] == ["set/a/1.png", "set/b/1.png"]
    assert data.items[1].label == 1 and data.items[0].read().startswith(b"\x89PNG")
    setting("FEATVIZ_MAX_DATASET_ZIP_MB", "0.0001")
    with pytest.raises(ImageError, match="FEATVIZ_MAX_DATASET_ZIP_MB"):
        datasets.zip_archive(buffer.getvalue(), "set.zip")


def test_an_interrupted_scan_resumes_to_the_same_result(digits_model, tmp_path, monkeypatch):
    from featviz_core.scan import _scan as scan_module

    monkeypatch.setattr(scan_module, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every batch
    data = _subset(datasets.bundled(datasets.DIGITS), 200)
    folder = tmp_path / scan_key(digits_model, data, ["conv2"], 8)
    asked = []
    stopped = scan(digits_model, data, ["conv2"], batch_size=50, top_k=8, checkpoint=folder,
                   should_stop=lambda: asked.append(1) or len(asked) >= 2)
    assert not stopped.complete and int(stopped.tallies["conv2"].images) == 100
    assert (folder / "checkpoint.npz").exists()
    seen = []
    resumed = scan(digits_model, data, ["conv2"], batch_size=50, top_k=8, checkpoint=folder,
                   progress=lambda p: seen.append(p.done))
    assert resumed.complete and seen[0] == 150  # it went on from image 100
    whole = scan(digits_model, data, ["conv2"], batch_size=50, top_k=8)
    assert same(resumed.tallies["conv2"], whole.tallies["conv2"]) and not (folder / "checkpoint.npz").exists()


def test_results_are_saved_as_parquet_with_a_manifest_and_reopened(digits_model, tmp_path):
    data = datasets.bundled(datasets.DIGITS)
    result = scan(digits_model, _subset(data, 100), ["conv1", "fc2"], batch_size=50, top_k=4)
    saved = list_scans(save(result, tmp_path).parent)[0]
    manifest = saved.manifest
    assert manifest["model"] == "digits_cnn" and manifest["layers"] == ["conv1", "fc2"] and manifest["complete"]
    assert manifest["shapes"] == {"conv1": [32, 26, 26], "fc2": [10]} and len(manifest["weights_digest"]) == 16
    top = saved.table("top", "conv1")
    assert len(top) == 32 * 4 and set(top.columns) >= {"channel", "rank", "image", "name", "value", "y", "x"}
    classes = saved.table("classes", "fc2")
    means = classes.pivot(index="class", columns="channel", values="mean")
    assert [int(means.loc[str(d)].idxmax()) for d in range(10)] == list(range(10))  # each digit's own logit
    assert saved.table("channels", "conv1")["histogram"].map(sum).eq(100).all()


def test_the_command_line_scans_a_folder_and_prints_where_the_results_are(tmp_path, capsys):
    pets = _image_folder(tmp_path / "pets")
    code = scan_main(["--model", "digits_cnn", "--layers", "conv1", "--data", str(pets), "--out",
                      str(tmp_path / "out"), "--batch-size", "4"])
    out, err = capsys.readouterr()
    assert code == 0 and "1 skipped" in err
    folder = tmp_path / "out" / out.strip().rsplit("/", 1)[-1]
    assert (folder / "top.parquet").exists() and (folder / "manifest.json").exists()


class _Probe(nn.Module):
    """Notes, as the forward pass reaches it, how many hooks the layer after it carries."""

    def __init__(self, after: nn.Module) -> None:
        super().__init__()
        self.after, self.seen = [after], []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(len(self.after[0]._forward_hooks))
        return x


def test_scans_and_unit_views_write_nothing_into_a_shared_model_and_ignore_other_threads():
    import threading

    from featviz_core.scan._scan import BatchRunner, _first_outputs
    from featviz_core.scan._views import receptive_box

    conv = nn.Conv2d(1, 2, 3)
    probe = _Probe(conv)
    module = nn.Sequential(probe, conv, nn.ReLU()).eval()
    model = fv.LoadedModel("probe", module, lambda image: torch.zeros(1, 8, 8), None)
    BatchRunner(model, ["1"]).run(torch.rand(2, 1, 8, 8))
    assert receptive_box(model, torch.rand(1, 8, 8), "1", 0, 2, 2) == (2, 2, 5, 5)
    assert probe.seen == [0, 0]  # another session running the model meanwhile would see no hook of ours
    outputs: dict = {}
    with _first_outputs({"1": conv}, outputs, lambda t: t.clone(), {}):
        other = threading.Thread(target=lambda: module(torch.rand(1, 1, 8, 8)))
        other.start()
        other.join()
    assert outputs == {}  # that other session's output is not taken for ours
