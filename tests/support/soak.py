"""One long page session for test_soak, run in a fresh interpreter: ``python -m tests.support.soak CHANGES``.

Why a fresh interpreter: the soak judges the process's resident memory. In the test process that memory
also holds whatever ran before (a training run leaves a larger, fragmented heap): the same session grew
by 3-8 % alone and by 9-11 % after test_digits. Prints one line, ``SOAK {json}``, with what it saw.
Reads the FEATVIZ_* cache caps and TORCH_HOME from the environment, like the server.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
import sys

from featviz_core.draw._normalize import NORMALIZATIONS

MODELS = (("digits_cnn", "pretrained"), ("resnet18", "untrained"), ("mobilenet_v3_small", "untrained"))
SAMPLES = ("Handwritten 2", "Cat (Chelsea)", "Checkerboard", "Handwritten 8", "Coffee cup", "Circles")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024


def hooks_on(module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def layer_keys(at) -> list[str]:
    """The layer selectbox's option values (its labels carry type and shape after the name)."""
    box = at.sidebar.selectbox(key="layer")
    return [label.strip().split(" · ")[0].replace("\u2003", "") for label in box.options]


def run(changes: int) -> dict:
    """Make ``changes`` changes of layer, normalization, sample and model in one AppTest session.

    After each: no exception or error on the page, and resident memory read. The server hands free heap
    memory back when glibc holds over 64 MB, at most every 10 s of wall-clock time (featviz_ui/server.py);
    the session runs as fast as the machine lets it, so where those releases fall depends on the machine's
    load. Each reading therefore applies the size rule first, without the clock.

    Each reading also collects cyclic garbage first. Streamlit's messages (protobuf's C objects) sit in
    reference cycles that only the oldest generation's collection frees, about every 160 changes here: without
    it, resident memory saw-tooths by 20 % over that period (bounded, so not a leak) and the thirds compared
    below fall on different phases of it. A leak is memory still reachable, which collection does not free.
    """
    from featviz_ui import server
    from featviz_ui.caches import cached_model, caches
    from tests.support.apptest import start

    at = start()
    # What the imports and the first run left alive (torch, torchvision, Streamlit, the app's modules) lives to
    # the end: frozen, it is left out of the full collections below and of Streamlit's after every run, which
    # otherwise walked it about 500 times (about 30 s). What the changes make is collected as before.
    gc.collect()
    gc.freeze()
    kinds = itertools.cycle(["layer", "normalization", "layer", "sample", "layer", "model"])
    models, samples, modes = itertools.cycle(MODELS), itertools.cycle(SAMPLES), itertools.cycle(list(NORMALIZATIONS))
    readings = []
    for change in range(changes):
        kind = next(kinds)
        if kind == "model":
            name, weights = next(models)
            at.sidebar.selectbox(key="model").set_value(name).run()
            at.sidebar.radio(key="weights").set_value(weights)
        elif kind == "sample":
            at.sidebar.selectbox(key="sample").set_value(next(samples))
        elif kind == "normalization":
            at.sidebar.selectbox(key="normalization").set_value(next(modes))
        else:
            options = layer_keys(at)
            at.sidebar.selectbox(key="layer").set_value(options[(change * 7) % len(options)])
        at.run()
        assert not at.exception, (change, kind, at.exception)
        assert not at.error, (change, kind, [e.value for e in at.error])
        gc.collect()
        server.release_free_memory(interval_s=0)
        readings.append(rss_mb())

    store = caches()
    return {
        "readings": readings,
        "activation_bytes": store.activations.nbytes,
        "captures": len(store.activations),
        "figure_bytes": store.figures.nbytes,
        "grids": len(store.figures),
        "hooks": {name: hooks_on(cached_model(name, weights == "pretrained").module) for name, weights in MODELS},
    }


if __name__ == "__main__":
    print("SOAK " + json.dumps(run(int(sys.argv[1]))))
