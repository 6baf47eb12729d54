"""A/B: this checkout's capture against an earlier commit's, in one process, alternating.

Why: a change to ``featviz_core.capturing._capture`` moves the capture-overhead ratio by a few per cent, less than the
drift between two runs of ``bench_capture.py``. Timing both versions side by side, on the same model and
input, in the same process, is what can tell such a change from noise. Also times what a new image or
model costs the UI: the earlier commit's ``capture_for_cache`` (what its dashboard ran on a new image or
model) against this checkout's, each as a ratio to the plain forward pass timed in the same rounds.

    python bench/ab_capture.py --against 274213f                # before and after issue 29, in one run
    python bench/ab_capture.py --against HEAD~3 --models resnet50 --repeats 40

Writes bench/results/capture_ab.json (shown in RESULTS.md) as well as printing the table.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType

import torch
import torchvision

import featviz_core as fv
from featviz_core.cache import capture_for_cache
from featviz_ui import server

from _common import REPO_ROOT, Table, log, print_table, write_results

MODELS = ("mobilenet_v2", "efficientnet_b0", "mobilenet_v3_large", "resnet18", "resnet50", "convnext_tiny", "vgg16",
          "vit_b_16")


def load_revision(revision: str, into: Path) -> ModuleType:
    """``featviz_core`` as it was at ``revision``, importable as ``featviz_then`` (its imports are relative)."""
    archive = subprocess.run(["git", "archive", revision, "featviz_core"], cwd=REPO_ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "featviz_core").rename(into / "featviz_then")
    sys.path.insert(0, str(into))
    return importlib.import_module("featviz_then")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="a git revision, e.g. HEAD~3 or a commit hash")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=25, help="timed rounds per model (default 25)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    server.tune_allocator()
    with tempfile.TemporaryDirectory(prefix="featviz-ab-") as tmp:
        then = load_revision(args.against, Path(tmp))
        then_cache = importlib.import_module("featviz_then.cache")
        table = Table(
            f"capture: this checkout vs {args.against}, medians of {args.repeats} alternating rounds after 3 "
            f"warm-up, torch threads {torch.get_num_threads()}; ratios are to the plain forward pass",
            ["model", "plain ms", f"fv.capture {args.against} ms", "fv.capture now ms",
             f"fv.capture {args.against} ratio", "fv.capture now ratio", f"dashboard's capture {args.against} ms",
             "dashboard's capture now ms",
             f"dashboard's capture {args.against} ratio", "dashboard's capture now ratio"],
        )
        rows = []
        for name in args.models:
            log(f"ab: {name}…")
            torch.manual_seed(0)
            model = torchvision.models.get_model(name, weights=None).eval()
            x = torchvision.models.get_model_weights(name).DEFAULT.transforms()(fv.load_sample("Cat (Chelsea)"))[None]

            def plain(model=model, x=x) -> object:
                with torch.inference_mode():
                    return model(x)

            runs = {  # model and x bound now: these run within this iteration only
                "plain": plain,
                "then": lambda model=model, x=x: then.capture(model, x),
                "now": lambda model=model, x=x: fv.capture(model, x),
                # the dashboard's capture, what it ran on a new image or model then and now
                "then_cache": lambda model=model, x=x: then_cache.capture_for_cache(model, x[0]),
                "now_cache": lambda model=model, x=x: capture_for_cache(model, x[0]),
            }
            for run in runs.values():
                for _ in range(3):
                    run()
            samples: dict[str, list[float]] = {key: [] for key in runs}
            for round_ in range(args.repeats):
                order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
                for key in order:
                    start = time.perf_counter()
                    runs[key]()
                    samples[key].append(time.perf_counter() - start)
            ms = {key: statistics.median(values) * 1e3 for key, values in samples.items()}
            table.rows.append([
                name, f"{ms['plain']:.1f}", f"{ms['then']:.1f}", f"{ms['now']:.1f}",
                f"{ms['then'] / ms['plain']:.2f}", f"{ms['now'] / ms['plain']:.2f}",
                f"{ms['then_cache']:.1f}", f"{ms['now_cache']:.1f}",
                f"{ms['then_cache'] / ms['plain']:.2f}", f"{ms['now_cache'] / ms['plain']:.2f}",
            ])
            rows.append({"model": name, **{f"{key}_ms": value for key, value in ms.items()}})
        print_table(table)
    notes = [f"Each model's six runs alternate within every round (order reversed every other round), after 3 "
             f"warm-up rounds; untrained weights, the cat photo through the model's own preprocessing; the earlier "
             f"commit's featviz_core imported from a `git archive` of {args.against} as `featviz_then`."]
    write_results("capture_ab", f"Capture, this checkout against {args.against}", [table], [], quick=False,
                  notes=notes, data={"against": args.against, "repeats": args.repeats, "models": rows},
                  started=started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
