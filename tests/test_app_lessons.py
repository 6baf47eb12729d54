"""The Lessons page through AppTest: every lesson opens the dashboard in the state that shows it, the output-shape
lesson's formula agrees with a real Conv2d and with the model's layers, and normalizing makes a faint layer seen."""

from __future__ import annotations

import numpy as np
import pytest

from featviz_core.lessons import (
    LESSONS,
    ZOO_FIRST_LAST,
    ZOO_PHOTO,
    conv2d_output_shape,
    conv_output_size,
    lesson_by_key,
    shape_checks,
    tiny_layer,
)
from featviz_ui.controls import PRESENTATION_CSS, PRESENTER_CSS
from tests.support.apptest import chart, grid_spec, meta, open_link, start, tile_pixels
from tests.support.weights import seed_resnet18


def lessons_page(lesson: str | None = None, **state: str):
    """The Lessons page on ``lesson``, after the dashboard was opened in ``state`` (a shared link's values)."""
    at = open_link(**({"lesson": lesson} if lesson else {}), **state) if lesson or state else start()
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    return at


def test_the_formula_is_the_one_torch_uses():
    assert conv_output_size(64, 3, 1, 1) == 64 and conv2d_output_shape(64, 3, 1, 1) == (1, 16, 64, 64)
    for size, kernel, padding, stride, pool in [(28, 3, 0, 1, 2), (224, 7, 3, 2, 1), (13, 5, 0, 3, 1), (9, 4, 2, 2, 2)]:
        out = conv_output_size(size, kernel, padding, stride)
        assert conv2d_output_shape(size, kernel, padding, stride, pool=pool)[-1] == (out // pool if pool > 1 else out)
    assert conv2d_output_shape(4, 7, 0, 1) is None and conv_output_size(4, 7) == 0  # the kernel does not fit


@pytest.mark.slow  # builds vgg11 and alexnet untrained: about 1.4 s
def test_every_convolution_and_pooling_layer_agrees_with_the_formula():
    import featviz_core as fv

    for name in ("digits_cnn", "resnet18", "vgg11", "alexnet"):
        model = fv.load_model(name, weights=None if name != "digits_cnn" else "default")
        checks = shape_checks(model, fv.capture(model, fv.load_sample("Handwritten 7")))
        assert checks and all(check.agrees for check in checks), [c for c in checks if not c.agrees]


def test_the_output_shape_lesson_works_the_formula_live_and_checks_it():
    at = lessons_page()
    assert at.header[0].value.startswith("1 · Output shape")
    at.slider(key="shape_w").set_value(64)
    at.slider(key="shape_k").set_value(3)
    at.slider(key="shape_p").set_value(1)
    at.slider(key="shape_s").set_value(1).run()
    text = " ".join(m.value for m in at.markdown)
    assert "(64 − 3 + 2·1) / 1 + 1 = **64**" in text and "**1×16×64×64** ✓" in text
    at.slider(key="shape_s").set_value(2).run()
    assert "(64 − 3 + 2·1) / 2 + 1 = **32**" in " ".join(m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["conv1", "pool1", "conv2", "pool2"] and set(table["agrees"]) == {"✓"}
    assert list(table["produced"]) == ["26×26", "13×13", "11×11", "5×5"]


def test_a_faint_layer_is_black_raw_and_seen_normalized():
    at = lessons_page("normalize")
    assert at.header[0].value.startswith("2 · Normalize before display")
    raw, normalized = tile_pixels(chart(at, "lesson_raw")), tile_pixels(chart(at, "lesson_normalized"))
    assert raw.shape == normalized.shape == (16, 64, 64, 3)
    assert np.percentile(raw, 99) < 0.05 * 255  # within 5 % of black: nothing to see
    assert np.percentile(normalized, 50) > 0.3 * 255 and normalized.max() == 255 and normalized.min() == 0
    assert float(tiny_layer().abs().max()) < 0.06


def test_next_and_previous_step_through_every_lesson_and_wrap():
    at = lessons_page()
    seen = []
    for _ in LESSONS:
        seen.append(at.header[0].value)
        at.button(key="next").click().run()
    assert [h.split(" · ")[0] for h in seen] == [str(i + 1) for i in range(len(LESSONS))]
    assert at.header[0].value == seen[0]  # after the last, the first again
    at.button(key="previous").click().run()
    assert at.header[0].value == seen[-1]


@pytest.mark.parametrize("lesson", [lesson.key for lesson in LESSONS])
def test_each_lesson_opens_the_dashboard_in_its_state_and_has_an_answer(lesson):
    at = lessons_page(lesson, layer="fc1", normalization="symmetric", order_by="max")  # something else first
    assert at.session_state["chosen_layer"] == "fc1"
    item = lesson_by_key(lesson)
    assert any(item.answer in md.value for box in at.expander for md in box.markdown)
    at.button(key=f"open_{lesson}").click().run()
    assert not at.exception, at.exception
    state = item.state
    if item.page == "trained_vs_untrained":
        titles = [chart(at, f"compare_{side}")["layout"]["title"]["text"] for side in ("trained", "untrained")]
        assert all(title.startswith(state["layer"] + " ·") for title in titles)
        signs = at.dataframe[0].value.set_index("measure")
        assert float(signs.loc["Redundancy", "trained"]) < float(signs.loc["Redundancy", "untrained"])
        assert float(signs.loc["Filter structure", "trained"]) > float(signs.loc["Filter structure", "untrained"])
        return
    if item.page == "compare_layers":
        titles = [chart(at, f"layer_{side}")["layout"]["title"]["text"] for side in ("left", "right")]
        assert titles[0].startswith(state["layer"] + " ·") and titles[1].startswith(state["layer_b"] + " ·")
        return
    assert grid_spec(at)["layout"]["title"]["text"].startswith(state["layer"] + " ·")
    assert meta(at)["normalization"] == state.get("normalization", "per_channel")
    assert at.sidebar.selectbox(key="model").value == state["model"]
    assert at.sidebar.selectbox(key="order_by").value == state.get("order_by", "index")


def test_early_vs_deep_says_how_to_get_a_photo_network_when_none_is_cached():
    at = lessons_page("early-vs-deep")
    assert not [b for b in at.button if b.key.startswith("open_zoo_")]
    assert any("weights fetch resnet18" in caption.value for caption in at.caption)


def test_early_vs_deep_opens_a_cached_zoo_models_first_and_last_blocks(torch_home):
    seed_resnet18(torch_home)
    at = lessons_page("early-vs-deep")
    assert [b.key for b in at.button if b.key.startswith("open_zoo_")] == ["open_zoo_resnet18"]
    at.button(key="open_zoo_resnet18").click().run()
    assert not at.exception, at.exception
    first, last = ZOO_FIRST_LAST["resnet18"]
    titles = [chart(at, f"layer_{side}")["layout"]["title"]["text"] for side in ("left", "right")]
    assert titles[0].startswith(first + " ·") and titles[1].startswith(last + " ·")
    assert at.sidebar.selectbox(key="model").value == "resnet18"
    assert "UNTRAINED" not in " ".join(titles)  # the cached, trained weights, on the photograph
    assert at.session_state["chosen_sample"] == ZOO_PHOTO


def test_the_presenter_view_hides_the_sidebar_and_opens_lessons_in_large_text():
    at = lessons_page("sparse", presenter="true")
    styles = " ".join(element.proto.body for element in at.get("html"))
    assert PRESENTER_CSS in styles and PRESENTATION_CSS in styles
    at.button(key="open_sparse").click().run()
    assert not at.exception, at.exception
    assert meta(at)["large_text"] is True and at.sidebar.toggle(key="presentation").value
    at.switch_page("pages/lessons.py").run()
    at.toggle(key="presenter").set_value(False).run()
    assert PRESENTER_CSS not in " ".join(element.proto.body for element in at.get("html"))


@pytest.mark.parametrize("model", list(ZOO_FIRST_LAST))
def test_each_zoo_models_first_and_last_blocks_are_maps_of_that_model(model):
    import featviz_core as fv

    loaded = fv.load_model(model, weights=None)
    first, last = ZOO_FIRST_LAST[model]
    captured = fv.capture(loaded, fv.load_sample(ZOO_PHOTO))
    early, deep = captured[first].shape, captured[last].shape
    assert len(early) == len(deep) == 3 and early[-1] >= 4 * deep[-1] > 4  # full-size edges, small deep maps
