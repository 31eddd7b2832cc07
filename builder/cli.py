"""Headless commands over the same functions the app uses.

    python -m builder check design.json
"""

from __future__ import annotations

import argparse
import os
import sys


def _add_check(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="analyse a design file: per-node shapes, parameters and problems")
    parser.add_argument("design", help="path to a design JSON file")
    parser.set_defaults(run=_run_check)


def _run_check(args) -> int:
    from builder.check import run_check

    text, code = run_check(args.design)
    print(text, file=sys.stdout if code < 2 else sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m builder",
        description="Neural Canvas from the command line: check, train and export designs.")
    parser.add_argument("--workspace", help="workspace folder for designs and runs "
                        "(default: $NEURAL_CANVAS_HOME or ~/.neural_canvas)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_check(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 problems found, 2 bad input)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    if args.workspace:
        os.environ["NEURAL_CANVAS_HOME"] = os.path.abspath(args.workspace)
    return args.run(args)
