"""Model loading through torchvision's real weights API and cache, seeded with checkpoints made here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

import featviz_core as fv
from featviz_core.models._load import best_device, list_zoo_models
from featviz_core.models._weights import WeightsFile, WeightsState, download_weights, weights_file, weights_state
from tests.support.weights import RESNET18_FILE, checkpoints, seed_resnet18


def test_zoo_lists_classification_models_only():
    models = list_zoo_models()
    assert {"resnet18", "vgg16", "mobilenet_v3_large", "convnext_tiny", "vit_b_16"} <= set(models)
    assert not any(name.startswith(("fasterrcnn", "deeplab", "raft", "r3d")) for name in models)


def test_weights_file_names_the_torchvision_checkpoint_and_cache_folder(torch_home):
    file = weights_file("resnet18")
    assert file.filename == RESNET18_FILE
    assert file.folder == torch_home / "hub" / "checkpoints"
    assert file.weights == "IMAGENET1K_V1" and not file.is_cached


def test_missing_weights_name_the_file_and_folder(torch_home):
    with pytest.raises(fv.WeightsUnavailableError) as raised:
        fv.load_model("resnet18", download=False)
    error = raised.value
    assert error.filename == RESNET18_FILE
    assert error.folder == str(torch_home / "hub" / "checkpoints")
    assert RESNET18_FILE in str(error) and "untrained" in str(error)


def test_unreachable_download_server_gives_weights_unavailable(torch_home):
    file = WeightsFile("resnet18", "IMAGENET1K_V1", "http://127.0.0.1:9/models/" + RESNET18_FILE)
    assert weights_state(file, timeout=2) is WeightsState.UNAVAILABLE
    with pytest.raises(fv.WeightsUnavailableError, match="no connection"):
        download_weights(file, timeout=2)
    assert not list(checkpoints(torch_home).iterdir())  # nothing half-written left behind


def test_seeded_cache_is_loaded_through_torchvision(torch_home):
    seed_resnet18(torch_home, marker=0.125)
    assert weights_state(weights_file("resnet18")) is WeightsState.CACHED
    model = fv.load_model("resnet18")
    assert model.trained and model.weights == "IMAGENET1K_V1"
    assert torch.all(model.module.conv1.weight == 0.125)
    assert "IMAGENET1K_V1" in model.label and "UNTRAINED" not in model.label
    assert len(model.categories) == 1000 and model.categories[0] == "tench"
    assert not model.module.training and not any(p.requires_grad for p in model.module.parameters())


def test_damaged_cached_file_is_reported_not_raised_raw(torch_home):
    (checkpoints(torch_home) / RESNET18_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(fv.ModelError, match="delete it"):
        fv.load_model("resnet18")


def test_untrained_weights_are_reproducible_and_labelled():
    first, second = fv.load_model("resnet18", weights=None), fv.load_model("resnet18", weights=None)
    assert torch.equal(first.module.conv1.weight, second.module.conv1.weight)
    assert not first.trained and "UNTRAINED" in first.label
    assert first.device == best_device()


def test_unknown_model_and_unknown_weights_are_clear_errors():
    with pytest.raises(fv.ModelError, match="Unknown model"):
        fv.load_model("resnet9000")
    with pytest.raises(fv.ModelError, match="IMAGENET1K_V1"):
        fv.load_model("resnet18", weights="NOPE")


def _served_checkpoint(tmp_path: Path, payload: bytes, hash_of: bytes) -> WeightsFile:
    prefix = hashlib.sha256(hash_of).hexdigest()[:8]
    source = tmp_path / f"tiny-{prefix}.pth"
    source.write_bytes(payload)
    return WeightsFile("tiny", "TEST", source.as_uri())


def test_download_reports_progress_and_lands_in_the_cache(tmp_path, torch_home):
    payload = bytes(range(256)) * 20_000  # 5 MB, several chunks
    file = _served_checkpoint(tmp_path, payload, payload)
    seen: list[tuple[int, int | None]] = []
    path = download_weights(file, progress=lambda done, total: seen.append((done, total)), chunk_size=1 << 20)
    assert path == checkpoints(torch_home) / file.filename and path.read_bytes() == payload
    assert len(seen) >= 5 and seen[-1][0] == len(payload)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_download_with_a_wrong_checksum_is_refused_and_removed(tmp_path, torch_home):
    file = _served_checkpoint(tmp_path, b"tampered", hash_of=b"original")
    with pytest.raises(fv.WeightsUnavailableError, match="checksum"):
        download_weights(file)
    assert not list(checkpoints(torch_home).iterdir())


def test_input_image_undoes_the_normalization():
    model = fv.load_model("resnet18", weights=None)
    image = fv.load_sample("Checkerboard")
    seen = model.input_image(model.preprocess(image))
    assert seen.size == (224, 224) and seen.mode == "RGB"
    gray = np.asarray(seen.convert("L"))
    assert gray.min() <= 2 and gray.max() >= 253  # black and white survive the round trip


def test_a_model_too_large_for_memory_is_a_clear_error(monkeypatch):
    """Building vit_h_14 needs about 2.4 GB; a machine that cannot give it gets a sentence, not a MemoryError."""
    import featviz_core.models._load as models

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(models, "get_model", no_memory)
    needs = r"vit_h_14 needs more memory than this machine can give it \(about 2\.4 GB"
    with pytest.raises(fv.ModelError, match=needs):
        fv.load_model("vit_h_14", weights=None)


def test_the_fetch_command_says_what_is_cached_and_where(torch_home, capsys):
    """`python -m featviz_core weights fetch/status`: what a teacher runs before class, and checks after."""
    from featviz_core.__main__ import main

    seed_resnet18(torch_home)
    assert main(["weights", "fetch", "resnet18"]) == 0  # cached: nothing to download
    out = capsys.readouterr().out
    assert f"resnet18 IMAGENET1K_V1: already cached, {checkpoints(torch_home) / RESNET18_FILE}" in out
    assert main(["weights", "status", "resnet18", "vgg16"]) == 1  # one is missing
    out = capsys.readouterr().out
    assert "resnet18 IMAGENET1K_V1: cached" in out and "vgg16 IMAGENET1K_V1: not cached" in out
    assert main(["weights", "fetch", "resnet9000"]) == 1
    assert "torchvision has no pretrained weights for a model named 'resnet9000'" in capsys.readouterr().err


def test_the_fetch_command_shows_progress_while_it_downloads(tmp_path, torch_home, capsys):
    from featviz_core.models._weights import _print_progress

    payload = bytes(range(256)) * 12_000  # 3 MB
    file = _served_checkpoint(tmp_path, payload, payload)
    download_weights(file, _print_progress("tiny"), chunk_size=1 << 20)
    shown = capsys.readouterr().err
    assert shown.count("% of 3 MB") == 3 and shown.endswith("tiny: 100% of 3 MB")  # one line, rewritten per chunk
