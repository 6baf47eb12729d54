"""A cached capture holds at most FEATVIZ_CAPTURE_RAM_MB in memory: later layers go to an unnamed spill file
as the model runs, exact, and are turned into float16 there when viewed."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import featviz_core as fv
from featviz_core.cache import activation_cache, capture_for_cache, compact
from featviz_core.errors import ModelError
from tests.support.maps import same_map, untrained_and_input

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "densenet121"])
def test_compacting_while_capturing_equals_compacting_afterwards_and_spills_past_the_budget(name, tmp_path):
    model, x = untrained_and_input(name)
    afterwards = compact(fv.capture(model, x))
    streamed = capture_for_cache(model, x, ram_bytes=2**20, spill_dir=str(tmp_path))
    assert list(streamed) == list(afterwards)  # module order, calls numbered alike
    assert streamed.disk_bytes == 0 and 0 < streamed.nbytes <= 2**20  # the first layers wait, the rest are noted
    different = [key for key in afterwards if not same_map(afterwards[key], streamed[key])]
    assert not different, different[:5]  # in-place ReLUs after their batch norms included: values as returned
    spilled = [key for key, fmap in streamed.items() if streamed.spill.holds(fmap.stored)]
    assert spilled and len(spilled) < len(streamed)  # the first layers in memory, the rest on disk
    stats = sum({id(fmap.stats): fmap.stats.nbytes for fmap in streamed.values()}.values())
    assert streamed.nbytes - stats <= 2**20 and streamed.disk_bytes > 2**20
    assert os.listdir(tmp_path) == []  # the file has no name: nothing is left behind, even by a crash


def test_a_spill_file_is_freed_with_its_capture(tmp_path):
    model = fv.load_model("digits_cnn")
    captured = capture_for_cache(model, fv.load_sample("Handwritten 7"), ram_bytes=0, spill_dir=str(tmp_path))
    assert captured.disk_bytes == 0 and captured.nbytes == 0  # nothing kept while the model ran: shapes only
    captured.finish()  # the model runs again, once, and each layer goes to disk as float16
    assert captured.disk_bytes > 0 and captured.nbytes < 4096 * len(captured)  # only statistics in memory
    assert _mapped_files(tmp_path) >= 1
    del captured
    gc.collect()
    assert _mapped_files(tmp_path) == 0  # unmapped, and an unlinked file's disk is then returned


def _mapped_files(folder: Path) -> int:
    """Files of ``folder`` this process maps (an unnamed one reads ``folder/#inode (deleted)``)."""
    with open("/proc/self/maps") as maps:
        return len({line.split()[-2] for line in maps if f" {folder}/" in line})


def test_the_cache_bounds_spilled_bytes_too(tmp_path, setting):
    setting("FEATVIZ_CAPTURE_RAM_MB", "0.001")
    setting("FEATVIZ_SPILL_DIR", str(tmp_path))
    model = fv.load_model("digits_cnn")
    one = capture_for_cache(model, fv.load_sample("Handwritten 7"))
    one.finish()  # every layer read: what was not kept is now on disk
    cache = activation_cache(max_bytes=2**30, max_disk_bytes=int(1.5 * one.disk_bytes))
    cache.put("a", one)
    two = cache.put("b", capture_for_cache(model, fv.load_sample("Handwritten 3")))
    assert "a" in cache  # nothing of the second on disk yet
    two.finish()
    cache.recount("b")
    assert "a" not in cache and "b" in cache  # two would not fit the disk budget: the older one went
    assert cache.disk_bytes == cache.get("b").disk_bytes


def test_an_unwritable_spill_folder_is_a_plain_message_not_a_crash(tmp_path, setting):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("x")
    setting("FEATVIZ_CAPTURE_RAM_MB", "0.001")
    setting("FEATVIZ_SPILL_DIR", str(blocker / "spill"))
    model = fv.load_model("digits_cnn")
    captured = capture_for_cache(model, fv.load_sample("Handwritten 7"))
    with pytest.raises(ModelError, match="spill folder"):
        captured["conv1"]  # the first layer past the budget that is read


_PEAK = textwrap.dedent("""
    import json, sys, torch
    from torch import nn
    import featviz_core as fv
    from featviz_core.cache import capture_for_cache, compact
    torch.set_num_threads(1)
    # 24 layers of 32×256×256 float32 (8 MB each): 192 MB if every layer is held as returned
    model = nn.Sequential(*[nn.Conv2d(32 if i else 3, 32, 3, padding=1) for i in range(24)]).eval()
    x = torch.randn(3, 256, 256)
    with torch.inference_mode():
        model(x[None])  # the model's own working memory, before the mark
    def resident(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field))
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = resident("VmRSS")
    kept = capture_for_cache(model, x) if sys.argv[1] == "streamed" else compact(fv.capture(model, x))
    captured = resident("VmHWM") - before
    kept.finish()  # every layer read: those past the budget run the model again, and go to disk in float16
    print(json.dumps({"captured": captured, "growth": resident("VmHWM") - before, "ram": kept.nbytes / 2**20,
                      "disk": kept.disk_bytes / 2**20}))
""")


def _peak(how: str, tmp_path: Path) -> dict:
    # glibc would keep freed 8 MB blocks in its heap (its mmap threshold rises as they are freed), which
    # measures the allocator, not what is alive: a fixed threshold returns each freed block at once
    env = {**os.environ, "FEATVIZ_CAPTURE_RAM_MB": "16", "FEATVIZ_SPILL_DIR": str(tmp_path),
           "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(2**20)}
    done = subprocess.run([sys.executable, "-c", _PEAK, how], capture_output=True, text=True, env=env, timeout=300,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two fresh interpreters, each capturing 24 layers of 32×256×256: about 10 s
def test_a_cached_capture_never_holds_every_layer_in_memory(tmp_path):
    """The peak of a cached capture is the model's own pass plus the budget, not every layer at once."""
    streamed, whole = _peak("streamed", tmp_path), _peak("whole", tmp_path)
    assert whole["growth"] > 190  # the old way: 24 float32 layers of 8 MB, then their float16 copies
    assert streamed["ram"] < 17 and streamed["disk"] > 70  # 16 MB kept, the rest of 96 MB (float16) on disk
    assert streamed["captured"] < 48  # while the model ran: 16 MB waiting and the model's own pass
    # then the model's own pass again, one layer being measured and converted (its statistics' temporaries)
    assert streamed["growth"] < 0.4 * whole["growth"] and streamed["growth"] < 110, (streamed, whole)


def _explore_layer(layer: str) -> tuple[str, list[str]]:
    import streamlit as st

    from tests.support.apptest import grid_spec, open_link

    st.cache_resource.clear()  # a fresh shared cache: the capture is made under the settings in force
    at = open_link(model="resnet18", weights="untrained", layer=layer)
    return grid_spec(at)["data"][0]["source"], [m.value for m in at.markdown if m.value.startswith(f"**{layer}**")]


def test_the_dashboard_draws_a_spilled_layer_as_it_draws_one_in_memory(tmp_path, setting, one_torch_thread):
    in_memory = _explore_layer("layer4.1.conv2")
    setting("FEATVIZ_CAPTURE_RAM_MB", "0.05")
    setting("FEATVIZ_SPILL_DIR", str(tmp_path))
    from featviz_ui.caches import caches

    spilled = _explore_layer("layer4.1.conv2")
    (held,) = [value for value in caches().activations._items.values()]
    assert held[0].spill.holds(held[0]["layer4.1.conv2"].stored)  # drawn from the spill file
    assert held[2] > 0 and held[1] < 2**20  # counted on disk, not in memory (the page counted it again)
    assert spilled == in_memory and in_memory[1]  # the same picture and the same statistics
