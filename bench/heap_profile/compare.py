"""Read what sitecustomize.py wrote: memory over time, and what grew between two snapshots.

    python bench/heap_profile/compare.py DIR FIRST LAST [--by lineno|traceback] [--top 15]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tracemalloc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir")
    parser.add_argument("first", type=int)
    parser.add_argument("last", type=int)
    parser.add_argument("--by", default="lineno", choices=("lineno", "traceback", "filename"))
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    mib = 2**20
    print("snapshot  RSS MiB  anonymous MiB  native in use MiB  native free MiB  Python blocks  threads  "
          "Python traced MiB")
    for path in sorted(glob.glob(os.path.join(args.dir, "info_*.json"))):
        info = json.load(open(path))
        malloc = info["mallinfo"]
        print(f"{os.path.basename(path)[5:8]:>8}  {info['rss'] / mib:7.0f}  {info.get('anonymous', 0) / mib:13.0f}"
              f"  {malloc.get('uordblks', 0) / mib:17.0f}  {malloc.get('fordblks', 0) / mib:15.0f}"
              f"  {info.get('python_blocks', 0):13d}  {info.get('threads', 0):7d}  {info['traced'][0] / mib:17.1f}")
    if not os.path.exists(os.path.join(args.dir, f"snap_{args.first:03d}.pickle")):
        return  # recorded with FEATVIZ_PROFILE_TRACE=0: no snapshots
    first = tracemalloc.Snapshot.load(os.path.join(args.dir, f"snap_{args.first:03d}.pickle"))
    last = tracemalloc.Snapshot.load(os.path.join(args.dir, f"snap_{args.last:03d}.pickle"))
    print(f"\nPython allocations grown from snapshot {args.first} to {args.last}:")
    for stat in last.compare_to(first, args.by)[: args.top]:
        print(stat)
        if args.by == "traceback":
            print("\n".join("    " + line for line in stat.traceback.format()[-12:]))
    types_first = dict(json.load(open(os.path.join(args.dir, f"info_{args.first:03d}.json")))["types"])
    types_last = dict(json.load(open(os.path.join(args.dir, f"info_{args.last:03d}.json")))["types"])
    grown = sorted(((types_last[k] - types_first.get(k, 0), k) for k in types_last), reverse=True)[:10]
    print("\nlive objects grown:", ", ".join(f"{name} +{count}" for count, name in grown if count > 0))


if __name__ == "__main__":
    main()
