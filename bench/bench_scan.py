"""Dataset scans: speed against a plain batched forward pass, memory over a large collection, Ray vs in-process.

Why: a scan should cost little more than running the model over the images at all (target: at least 0.85× a
plain batched forward pass's images/s, both decoding and preprocessing the same images at the same batch
size, measured alternately in this process), and what it keeps must not grow with the collection (target:
resident memory grows under 5 % from the first to the last fifth of a 20,000-image scan of generated
images). Ray with 1 and 2 workers is reported beside the in-process engine on the same machine, honestly:
on 2 cores a cluster adds overhead and no cores.

    python bench/bench_scan.py            # full run
    python bench/bench_scan.py --quick    # smaller collections, fewer repeats
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

import featviz_core as fv
from featviz_core import datasets
from featviz_core.images import load_image
from featviz_core.scan import scan

from _common import REPO_ROOT, Table, Target, log, print_table, print_targets, read_rss_bytes, write_results

TARGET_RATIO = 0.85
TARGET_GROWTH = 0.05


def generated(count: int, size: int = 64, seed: int = 0) -> datasets.Dataset:
    """``count`` distinct PNG images made on the fly (noise and stripes), never held all at once."""
    def reader(i: int):
        def read() -> bytes:
            rng = np.random.default_rng(seed + i)
            pixels = (rng.random((size, size, 3)) * 255).astype(np.uint8)
            pixels[:, :: 2 + i % 7] = 255
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
            return buffer.getvalue()
        return read

    items = [datasets.DatasetItem(i, f"gen-{i}.png", i % 10, reader(i)) for i in range(count)]
    return datasets.Dataset(f"generated {count}", items, tuple(map(str, range(10))), f"gen{count}-{seed}")


def plain_forward(model: fv.LoadedModel, collection: datasets.Dataset, batch_size: int) -> float:
    """The baseline: decode, preprocess, batch, forward under inference_mode; nothing kept. Images/s."""
    started = time.perf_counter()
    items = collection.items
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = torch.stack([model.preprocess(load_image(item.read())) for item in items[start:start + batch_size]])
            model.module(batch)
    return len(items) / (time.perf_counter() - started)


def scanned(model: fv.LoadedModel, collection: datasets.Dataset, layers: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    scan(model, collection, layers, batch_size=batch_size)
    return len(collection) / (time.perf_counter() - started)


def speed(name: str, layers: list[str], collection: datasets.Dataset, batch_size: int, repeats: int) -> dict:
    model = fv.load_model(name, weights=None if name != "digits_cnn" else "default", device="cpu")
    plain_forward(model, datasets.Dataset("warm", collection.items[:batch_size]), batch_size)  # warm-up
    plains, scans = [], []
    for _ in range(repeats):  # alternately, so drift hits both
        plains.append(plain_forward(model, collection, batch_size))
        scans.append(scanned(model, collection, layers, batch_size))
    plain, ours = float(np.median(plains)), float(np.median(scans))
    return {"model": name, "layers": layers, "images": len(collection), "batch": batch_size, "plain": plain,
            "scan": ours, "ratio": ours / plain}


def memory(count: int) -> dict:
    """Resident memory through a long scan, sampled at each fifth."""
    model = fv.load_model("resnet18", weights=None, device="cpu")
    collection = generated(count)
    samples: list[tuple[int, int]] = []
    marks = {count * k // 5 for k in range(1, 6)}

    def progress(p) -> None:
        if any(p.done >= m and not any(d >= m for d, _ in samples) for m in marks):
            samples.append((p.done, read_rss_bytes(os.getpid())))

    started = time.perf_counter()
    scan(model, collection, ["layer3", "layer4"], batch_size=64, progress=progress)
    first, last = samples[0][1], samples[-1][1]
    return {"images": count, "seconds": time.perf_counter() - started, "rss_mb": [r / 2**20 for _, r in samples],
            "growth": (last - first) / first}


def ray_engine(collection: datasets.Dataset, layers: list[str], batch_size: int) -> list[dict]:
    import ray

    from featviz_core.scan import scan_on_ray

    model = fv.load_model("resnet18", weights=None, device="cpu")
    rows = []
    baseline = scanned(model, collection, layers, batch_size)
    rows.append({"engine": "in-process", "images_per_s": baseline, "ratio": 1.0})
    ray.init(num_cpus=os.cpu_count(), log_to_driver=False, include_dashboard=False)
    try:
        for workers in (1, 2):
            scan_on_ray(model, datasets.Dataset("warm", collection.items[:batch_size]), layers,
                        batch_size=batch_size, workers=workers)  # actors and Ray Data warmed
            started = time.perf_counter()
            scan_on_ray(model, collection, layers, batch_size=batch_size, workers=workers)
            rate = len(collection) / (time.perf_counter() - started)
            rows.append({"engine": f"ray, {workers} worker(s)", "images_per_s": rate, "ratio": rate / baseline})
    finally:
        ray.shutdown()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    repeats = 2 if args.quick else 3
    digits = datasets.bundled(datasets.DIGITS)
    runs = [speed("digits_cnn", ["conv1", "conv2", "fc2"], digits, 100, repeats),
            speed("resnet18", ["layer3", "layer4"], generated(128 if args.quick else 512, size=224), 32, repeats)]
    speed_table = Table("In-process scan vs a plain batched forward pass (decode, preprocess, forward; CPU)",
                        ["model", "layers", "images", "batch", "plain images/s", "scan images/s", "ratio"])
    for run in runs:
        speed_table.rows.append([run["model"], ", ".join(run["layers"]), str(run["images"]), str(run["batch"]),
                                 f"{run['plain']:.0f}", f"{run['scan']:.0f}", f"{run['ratio']:.2f}"])
    mem = memory(2_000 if args.quick else 20_000)
    memory_table = Table("Resident memory through a scan of generated 64×64 images (resnet18, layer3 + layer4)",
                         ["images", "seconds", "RSS at each fifth (MB)", "growth first → last fifth"])
    memory_table.rows.append([f"{mem['images']:,}", f"{mem['seconds']:.0f}",
                              ", ".join(f"{v:.0f}" for v in mem["rss_mb"]), f"{mem['growth']:+.1%}"])
    ray_rows = ray_engine(generated(96 if args.quick else 384, size=224), ["layer3", "layer4"], 32)
    ray_table = Table("Ray vs the in-process engine on this machine (resnet18, layer3 + layer4, batch 32)",
                      ["engine", "images/s", "vs in-process"])
    for row in ray_rows:
        ray_table.rows.append([row["engine"], f"{row['images_per_s']:.0f}", f"{row['ratio']:.2f}"])
    targets = [Target(f"{run['model']}: scan ≥ {TARGET_RATIO}× plain forward", run["ratio"] >= TARGET_RATIO,
                      f"{run['ratio']:.2f}") for run in runs]
    targets.append(Target(f"memory growth over {mem['images']:,} images < {TARGET_GROWTH:.0%}",
                          mem["growth"] < TARGET_GROWTH, f"{mem['growth']:+.1%}"))
    for table in (speed_table, memory_table, ray_table):
        print_table(table)
    print_targets(targets)
    notes = [f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs; no GPU in this run"
             if not torch.cuda.is_available() else f"GPU: {torch.cuda.get_device_name()}"]
    path = write_results("scan", "Dataset scans", [speed_table, memory_table, ray_table], targets, quick=args.quick,
                         notes=notes, data={"speed": runs, "memory": mem, "ray": ray_rows}, started=started)
    log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
