"""The layer picker: what its search lists first and the shape it shows in full (its links: test_app_share)."""

from __future__ import annotations

import pytest
from streamlit.proto.SelectWidgetFilterMode_pb2 import SelectWidgetFilterMode

import featviz_core as fv
from featviz_core.capturing._layers import layer_name
from featviz_ui.controls import layer_labels
from tests.support.apptest import start


def fuzzy(labels: list[str], query: str) -> list[str]:
    """Streamlit 1.67's default select-box search, as its frontend does it: keep the labels that hold the
    typed letters in order, ranked by fzy's score (its constants and recurrence, ported from Streamlit's
    static JS), ties in the options' order (a stable sort)."""
    found = [label for label in labels if _in_order(query.lower(), label.lower())]
    return sorted(found, key=lambda label: -_score(query, label))


def _in_order(needle: str, haystack: str) -> bool:
    at = 0
    for char in needle:
        at = haystack.find(char, at) + 1
        if at == 0:
            return False
    return True


def _bonuses(label: str) -> list[float]:
    bonus, previous = [], "/"
    for char in label:
        bonus.append(0.9 if previous == "/" else 0.8 if previous in "-_ " else 0.6 if previous == "."
                     else 0.7 if previous.islower() and char.isupper() else 0.0)
        previous = char
    return bonus


def _score(query: str, label: str) -> float:
    n, m = len(query), len(label)
    if query == label:
        return float("inf")
    if n == m:
        return float("inf")  # fzy: a candidate as long as the needle is a full match
    q, h, bonus = query.lower(), label.lower(), _bonuses(label)
    lead, trail, inner = -0.005, -0.005, -0.01
    best = [[0.0] * m for _ in range(n)]  # r: best score up to here
    ends = [[0.0] * m for _ in range(n)]  # n: best score with a match ending here
    for i in range(n):
        running, gap = float("-inf"), trail if i == n - 1 else inner
        for j in range(m):
            if q[i] == h[j]:
                score = float("-inf")
                if i == 0:
                    score = j * lead + bonus[j]
                elif j:
                    score = max(best[i - 1][j - 1] + bonus[j], ends[i - 1][j - 1] + 1)
                ends[i][j] = score
                best[i][j] = running = max(score, running + gap)
            else:
                ends[i][j] = float("-inf")
                best[i][j] = running = running + gap
    return best[n - 1][m - 1]


def names(labels: list[str]) -> list[str]:
    return [layer_name(label) for label in labels]


def picker_labels(model: fv.LoadedModel) -> list[str]:
    """The labels the sidebar's picker offers, padded as it pads them."""
    return list(layer_labels(fv.layer_tree(model, fv.capture(model, fv.load_sample()))).values())


@pytest.fixture(scope="module")
def digits_labels() -> list[str]:
    return picker_labels(fv.load_model("digits_cnn"))


@pytest.fixture(scope="module")
def resnet_labels() -> list[str]:
    return picker_labels(fv.load_model("resnet18", weights=None))


def test_relu_lists_the_relus_in_model_order(digits_labels):
    assert names(fuzzy(digits_labels, "relu"))[:3] == ["relu1", "relu2", "relu3"]  # unpadded: relu3 first


def test_an_exact_name_comes_before_a_type_that_contains_it(digits_labels):
    assert names(fuzzy(digits_labels, "conv2"))[0] == "conv2"  # conv1's type, Conv2d, holds "conv2" too
    assert names(fuzzy(digits_labels, "pool2"))[0] == "pool2"  # MaxPool2d


def test_layer4_lists_layer4_and_what_is_in_it_first(resnet_labels):
    found = names(fuzzy(resnet_labels, "layer4"))
    inside = [name for name in names(resnet_labels) if name.startswith("layer4")]
    assert set(found[: len(inside)]) == set(inside)  # before layer1-3's blocks (whose shapes hold a 4)
    assert found[:2] == ["layer4", "layer4.0"]
    assert names(fuzzy(resnet_labels, "relu"))[0] == "relu"  # the top-level one before layerN.M.relu


def test_a_shape_is_found_with_a_plain_x(digits_labels):
    assert set(names(fuzzy(digits_labels, "11x11"))[:2]) == {"conv2", "relu2"}
    assert names(fuzzy(digits_labels, "64x5x5"))[0] == "pool2"


def test_a_link_value_gives_the_plain_layer_name():
    assert layer_name("layer1.0.conv1") == "layer1.0.conv1"
    assert layer_name("\u2003\u2003layer1.0.conv1 · Conv2d · 64×56×56") == "layer1.0.conv1"  # an older link's label


def test_the_picker_offers_padded_labels_and_shows_the_whole_shape():
    at = start()
    box = at.sidebar.selectbox(key="layer")
    assert box.proto.filter_mode == SelectWidgetFilterMode.FILTER_MODE_FUZZY  # the ranking above
    assert [option.rstrip() for option in box.options[:3]] == [
        "conv1 · Conv2d · 32x26x26", "relu1 · ReLU · 32x26x26", "pool1 · MaxPool2d · 32x13x13"]
    assert len(set(map(len, box.options))) == 1
    box.set_value("conv2").run()
    assert any("conv2** · Conv2d · output **64×11×11**" in c.value for c in at.sidebar.caption)
