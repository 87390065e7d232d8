"""`cab images`: build the images a run needs (config/images.toml) and list them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner import images
from runner.errors import RunnerError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="Build the images a run needs and list them")
    isub = p.add_subparsers(dest="images_command", metavar="ACTION", required=True)
    b = isub.add_parser("build", help="build missing images (dependencies first)")
    b.add_argument("names", nargs="*", metavar="NAME", help="image names (default: all)")
    b.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    b.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="build up to N independent images at once (default 1)",
    )
    b.add_argument(
        "--tasks-dir",
        "--tasks",
        dest="tasks_dirs",
        type=Path,
        action="append",
        metavar="DIR",
        help="build what these task sources need instead: each task's image (Harbor "
        "environments too) and, per --tui, the agent layered on it (repeatable)",
    )
    b.add_argument(
        "--tui", action="append", default=[], help="an agent to layer on each task image"
    )
    b.set_defaults(func=run_build)
    ls = isub.add_parser("list", help="tag, id, size and whether each image is built")
    ls.set_defaults(func=run_list)


def run_build(args: argparse.Namespace) -> int:
    if args.tasks_dirs:
        return _build_for_tasks(args.tasks_dirs, args.tui)
    try:
        built = images.build(args.names or None, force=args.force, jobs=max(1, args.jobs))
    except RunnerError as exc:
        print(f"cab images build: {exc}", file=sys.stderr)
        return 1
    for tag, image_id in built.items():
        print(f"{tag}\t{image_id}")
    print(f"recorded in {images.record_path()}", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    try:
        rows = images.listing()
    except RunnerError as exc:
        print(f"cab images list: {exc}", file=sys.stderr)
        return 1
    width = max([len(r["name"]) for r in rows] + [4]) + 2
    print(f"{'NAME':<{width}}{'TAG':<44}{'BUILT':<7}{'SIZE':>9}  ID")
    for r in rows:
        size = f"{r['size'] / 1e6:.0f}MB" if r["size"] else "-"
        built = "yes" if r["built"] else "no"
        print(f"{r['name']:<{width}}{r['tag']:<44}{built:<7}{size:>9}  {r['id'] or '-'}")
    return 0


def _build_for_tasks(sources: list[Path], tuis: list[str]) -> int:
    """`cab images build --tasks-dir DIR [--tui T]...`: task images x agents, cached by tag."""
    from runner.taskformats.derived import build_for_tasks
    from runner.tasks import select

    try:
        built = build_for_tasks(select(None, sources), tuis)
    except RunnerError as exc:
        print(f"cab images build: {exc}", file=sys.stderr)
        return 1
    for tag, what in built.items():
        print(f"{tag}\t{what}")
    return 0
