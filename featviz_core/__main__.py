"""``python -m featviz_core settings``: every deployment setting, its default and the value in force."""

from __future__ import annotations

import argparse
import dataclasses

from . import settings


def print_settings() -> None:
    """The README's table, with a column for what this environment sets."""
    in_force = settings.current()
    print("| setting | default | in force | what |\n|---|---|---|---|")
    for spec, row in zip(dataclasses.fields(settings.Settings), settings.table(), strict=True):
        value = settings.format_value(getattr(in_force, spec.name), spec.metadata["unit"])
        print(f"| `{row.variable}` | {row.default} | {value} | {row.meaning} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m featviz_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("settings", help="print every FEATVIZ_* setting with its default and the value in force")
    parser.parse_args()
    print_settings()


if __name__ == "__main__":
    main()
