"""The Ray engine on a local two-node cluster (ray.cluster_utils.Cluster): exactly the in-process engine's
statistics and top-k, skipped files included; a worker killed mid-scan loses and duplicates no image."""

from __future__ import annotations

import os

import numpy as np
import pytest

import featviz_core as fv
from featviz_core import datasets
from featviz_core.scan._ray import scan_on_ray
from featviz_core.scan._scan import scan
from featviz_core.scan._tally import same

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # a two-node Ray cluster: about 20 s to start and run


@pytest.fixture(scope="module")
def cluster():
    """Two nodes of one CPU each, as two machines would be (on this one)."""
    import ray  # here, not at the top: collecting the suite need not import Ray
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(scope="module")
def collection() -> datasets.Dataset:
    """300 held-out digits spread over the classes, and one file that cannot be read."""
    digits = datasets.bundled(datasets.DIGITS)
    items = list(digits.items[::3][:300])
    broken = datasets.DatasetItem(len(digits), "broken.png", 7, lambda: b"\x89PNG\r\n\x1a\nnot an image")
    return datasets.Dataset("digits+broken", [*items[:150], broken, *items[150:]], digits.classes, "test")


@pytest.fixture(scope="module")
def reference(collection):
    model = fv.load_model("digits_cnn", device="cpu")
    return model, scan(model, collection, ["conv2", "fc2"], batch_size=32, top_k=8)


def test_ray_gives_exactly_the_in_process_result(cluster, collection, reference, one_torch_thread):
    model, expected = reference
    seen = []
    result = scan_on_ray(model, collection, ["conv2", "fc2"], batch_size=32, top_k=8, workers=2,
                         progress=lambda p: seen.append(p.done))
    for layer in ("conv2", "fc2"):
        assert same(result.tallies[layer], expected.tallies[layer]), layer
        np.testing.assert_array_equal(result.tallies[layer].top_image, expected.tallies[layer].top_image)
    assert result.skipped == expected.skipped and [name for name, _ in result.skipped] == ["broken.png"]
    assert result.manifest["engine"] == "ray" and result.manifest["ray"]["workers"] == 2
    assert seen[-1] == len(collection)


def test_a_worker_killed_mid_scan_loses_and_duplicates_no_image(cluster, collection, reference, tmp_path):
    model, expected = reference
    marker = str(tmp_path / "killed")
    victim = collection.items[200].index

    def die_once(indices: np.ndarray) -> None:
        if victim in indices and not os.path.exists(marker):  # the worker dies mid-scan, once
            open(marker, "w").close()
            os._exit(1)

    result = scan_on_ray(model, collection, ["conv2"], batch_size=32, top_k=8, workers=2, fault=die_once)
    assert os.path.exists(marker)  # it did die
    assert int(result.tallies["conv2"].images) == int(expected.tallies["conv2"].images) == 300
    assert same(result.tallies["conv2"], expected.tallies["conv2"])
