"""``python -m featviz_core scan``: a dataset scan without a browser, for long jobs.

    python -m featviz_core scan --model resnet18 --layers layer3 layer4 --data /data/val --out ~/scans
    python -m featviz_core scan --model digits_cnn --layers conv2 --data digits
    python -m featviz_core scan --model resnet18 --layers layer4 --data /data/val --engine ray --address auto

Progress goes to stderr; the results folder's path to stdout. Interrupted (Ctrl-C), a scan keeps its
checkpoint and the same command resumes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import datasets
from ..errors import FeatvizError
from ..models._load import load_model
from ._results import save, scans_root
from ._scan import Progress, scan, scan_key


def _report(progress: Progress) -> None:
    left = f", {progress.seconds_left:.0f} s left" if progress.seconds_left is not None else ""
    print(f"\r  {progress.done:,}/{progress.total:,} images, {progress.per_second:.0f}/s{left}   ", end="",
          file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m featviz_core scan", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="any model name featviz lists (digits_cnn, resnet18, "
                        "timm/…, a team model)")
    parser.add_argument("--weights", default="default", help="'default' (pretrained) or 'untrained'")
    parser.add_argument("--layers", nargs="+", required=True, help="layer names, e.g. layer3 layer4")
    parser.add_argument("--data", required=True, help="a folder of images (one sub-folder per class gives "
                        "labels), a .zip of them, or 'digits' / 'samples' for a bundled set")
    parser.add_argument("--out", type=Path, default=None, help="where results go (default: FEATVIZ_SCAN_DIR)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--engine", choices=("in-process", "ray"), default="in-process")
    parser.add_argument("--address", default=None, help="Ray cluster address (ray://host:10001, or auto)")
    parser.add_argument("--workers", type=int, default=None, help="Ray actors (default: one per CPU or GPU)")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model, weights=None if args.weights == "untrained" else args.weights)
        data = _dataset(args.data)
        root = args.out or scans_root()
        if args.engine == "ray":
            from ._ray import scan_on_ray

            result = scan_on_ray(model, data, args.layers, batch_size=args.batch_size, top_k=args.top_k,
                                 address=args.address, workers=args.workers, progress=_report)
        else:
            checkpoint = root / scan_key(model, data, args.layers, args.top_k)
            try:
                result = scan(model, data, args.layers, batch_size=args.batch_size, top_k=args.top_k,
                              progress=_report, checkpoint=checkpoint)
            except KeyboardInterrupt:
                print(f"\nstopped; run the same command again to resume ({checkpoint})", file=sys.stderr)
                return 130
        folder = save(result, root)
    except FeatvizError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    skipped = f", {len(result.skipped)} skipped (listed in skipped.parquet)" if result.skipped else ""
    print(f"\n{len(data):,} images scanned in {result.manifest['seconds']:.0f} s{skipped}", file=sys.stderr)
    print(folder)
    return 0


def _dataset(text: str) -> datasets.Dataset:
    named = {"digits": datasets.DIGITS, "samples": datasets.SAMPLES}
    if text in named:
        return datasets.bundled(named[text])
    path = Path(text).expanduser()
    if path.suffix.lower() == ".zip":
        return datasets.zip_archive(path.read_bytes(), path.name)
    return datasets.folder(path)
