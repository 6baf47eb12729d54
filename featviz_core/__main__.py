"""``python -m featviz_core settings``: every deployment setting, its default and the value in force.
``python -m featviz_core weights fetch resnet18 vgg16``: zoo checkpoints into $TORCH_HOME for an offline class.
``python -m featviz_core scan --model resnet18 --layers layer4 --data DIR``: a dataset scan without a browser."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from . import settings


def print_settings() -> None:
    """The settings table of docs/limits-and-safety.md, with a column for what this environment sets."""
    in_force = settings.current()
    print("| setting | default | in force | what |\n|---|---|---|---|")
    for spec, row in zip(dataclasses.fields(settings.Settings), settings.table(), strict=True):
        value = settings.format_value(getattr(in_force, spec.name), spec.metadata["unit"])
        print(f"| `{row.variable}` | {row.default} | {value} | {row.meaning} |")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["weights"]:  # its own parser: fetch / status
        from .models._weights import main as weights_main

        return weights_main(argv[1:])
    if argv[:1] == ["scan"]:
        from .scan._cli import main as scan_main

        return scan_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m featviz_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("settings", help="print every FEATVIZ_* setting with its default and the value in force")
    commands.add_parser("weights", help="fetch zoo checkpoints for offline use, or say which are cached "
                        "(python -m featviz_core weights fetch resnet18 vgg16)")
    commands.add_parser("scan", help="scan an image collection through a model, per channel "
                        "(python -m featviz_core scan --help)")
    parser.parse_args(argv)
    print_settings()
    return 0


if __name__ == "__main__":
    sys.exit(main())
