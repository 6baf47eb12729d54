"""The dashboard's capture waits for nothing but the model: each layer is measured and rounded when first read.

``capture_for_cache`` holds the first ``FEATVIZ_CAPTURE_RAM_MB`` of layers exactly as the model returned
them and turns a layer into the cache's float16 with exact statistics only when someone reads it. These
tests hold it to the same result as compacting a float32 capture afterwards, layer by layer; to reading
nothing where only names and shapes are wanted; and to one result when sessions read a layer at once.
"""

from __future__ import annotations

import copy
import gc
import threading

import pytest
import torch
import torchvision

import featviz_core as fv
from featviz_core.cache import activation_cache, capture_for_cache, compact
from featviz_core.capturing._copy_on_write import known_plan
from featviz_core.errors import ModelError
from featviz_core.export import capture_npz_size
from featviz_core.lessons import shape_checks
from tests.support.maps import same_map, untrained_and_input

SEVEN = fv.load_sample("Handwritten 7")


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "densenet121"])
def test_each_layer_read_later_equals_compacting_the_float32_capture(name, one_torch_thread):
    model, x = untrained_and_input(name)
    truth = compact(fv.capture(model, x))
    cached = capture_for_cache(model, x)
    assert cached.waiting == len(cached) == len(truth)  # nothing measured or rounded while the model ran
    assert all(fmap.stats is None and fmap.stored.dtype == torch.float32 for _, fmap in cached.outline())
    last = list(truth)[-1]
    assert same_map(cached[last], truth[last]) and cached.waiting == len(truth) - 1  # one read, one layer turned
    different = [key for key in truth if not same_map(cached[key], truth[key])]
    assert not different, different[:5]  # in-place ReLUs after their batch norms included
    assert cached.waiting == 0 and cached.nbytes <= truth.nbytes * 1.01  # float16 now, shared layers shared


def test_names_types_and_shapes_are_read_without_finishing_a_layer():
    model = fv.load_model("digits_cnn")
    cached = capture_for_cache(model, SEVEN)
    waiting = cached.waiting
    tree = fv.layer_tree(model, cached)
    assert fv.default_layer(cached) == "conv1"
    assert capture_npz_size(cached) == capture_npz_size(fv.capture(model, SEVEN))
    assert [check.layer for check in shape_checks(model, cached)] == ["conv1", "pool1", "conv2", "pool2"]
    assert len(list(cached)) == len(cached) == waiting and cached.waiting == waiting
    assert [entry.shape for entry in tree if entry.key == "conv1"] == [(32, 26, 26)]


def test_sessions_reading_one_layer_at_once_share_one_result():
    model = fv.load_model("digits_cnn")
    cached = capture_for_cache(model, SEVEN)
    seen: list[fv.FeatureMap] = []
    threads = [threading.Thread(target=lambda: seen.append(cached["conv2"])) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(fmap) for fmap in seen}) == 1 and seen[0].stats is not None


def test_finish_turns_every_waiting_layer_and_says_how_far_it_is():
    cached = capture_for_cache(fv.load_model("digits_cnn"), SEVEN)
    cached["conv1"]
    calls: list[tuple[int, int]] = []
    cached.finish(lambda done, total: calls.append((done, total)))
    assert calls == [(done, len(cached) - 1) for done in range(1, len(cached))]
    assert cached.waiting == 0 and all(fmap.stats is not None for _, fmap in cached.outline())


def test_the_shared_cache_counts_a_capture_again_as_it_shrinks():
    cache = activation_cache(max_bytes=2**30)
    captured = cache.put("seven", capture_for_cache(fv.load_model("digits_cnn"), SEVEN))
    before = cache.nbytes
    captured.finish()
    cache.recount("seven")
    assert cache.nbytes == captured.nbytes < before  # float32 waiting → float16 beside its statistics


def test_a_first_pass_past_the_budget_still_leaves_a_plan_a_plain_capture_can_trust(tmp_path):
    """Layers past the memory budget are only noted as they return, outside the copy-on-write guard; the
    pass that watched in-place writes must still learn which of them are overwritten later, or the plain
    captures that follow its plan would keep outputs an in-place ReLU has changed. Read later, they run the
    model again and are the same as the others."""
    torch.manual_seed(0)
    model = torchvision.models.get_model("resnet18", weights=None).eval()
    fresh = copy.deepcopy(model)  # no plan yet: its capture watches every write
    x = torch.randn(3, 64, 64)
    spilled = capture_for_cache(model, x, ram_bytes=2**20, spill_dir=str(tmp_path))
    assert spilled.waiting == len(spilled) and spilled.nbytes <= 2**20  # in memory or only noted, all waiting
    assert known_plan(model, ((1, 3, 64, 64), torch.float32, torch.device("cpu"))) is not None
    planned, watched = fv.capture(model, x), fv.capture(fresh, x)
    assert all(torch.equal(planned[key].tensor, watched[key].tensor) for key in watched)
    truth = compact(watched)
    assert all(same_map(spilled[key], truth[key]) for key in truth)
    assert spilled.disk_bytes > 0 and spilled.nbytes < truth.nbytes  # those past the budget went to disk


def test_a_layer_past_the_budget_needs_its_model_and_says_so_plainly(tmp_path):
    model = fv.load_model("digits_cnn")
    captured = capture_for_cache(model, SEVEN, ram_bytes=0, spill_dir=str(tmp_path))
    assert captured.can_finish()
    del model
    gc.collect()
    assert not captured.can_finish()
    with pytest.raises(ModelError, match="no longer loaded"):
        captured["fc2"]


def _cached_captures() -> list[fv.Capture]:
    from featviz_ui.caches import caches

    return [item[0] for item in caches().activations._items.values()]


def test_the_explore_page_measures_the_layer_it_shows_and_the_overview_all_of_them():
    import streamlit as st

    from tests.support.apptest import start

    st.cache_resource.clear()
    at = start()  # the digits CNN on its handwritten 7, conv1 shown
    assert not at.exception
    (captured,) = _cached_captures()
    finished = [key for key, fmap in captured.outline() if fmap.stats is not None]
    assert finished == ["conv1"]  # the layer on screen, and only it
    at.switch_page("pages/overview.py").run()
    assert not at.exception and captured.waiting == 0  # the overview wants every layer: all measured, once
    assert at.dataframe[0].value.shape[0] == len(captured)


def test_the_warm_up_fills_exactly_what_the_first_page_run_reads():
    """The server warms the default example as it starts (featviz_ui/warm.py): the first visitor's page then
    captures nothing and builds no figure, because the warm-up used the very keys the page reads."""
    import streamlit as st

    from featviz_ui.caches import caches
    from featviz_ui.warm import warm_default_example
    from tests.support.apptest import start

    st.cache_resource.clear()
    warm_default_example()
    shared = caches()
    captures, figures = len(shared.activations), len(shared.figures)
    assert (captures, figures) == (1, 1)
    at = start()
    assert not at.exception
    assert (len(shared.activations), len(shared.figures)) == (captures, figures)  # nothing new was made
    assert shared.figures.hits >= 1 and shared.activations.hits >= 1
