"""Builds the canvas's JavaScript into the wheel (the built files are not committed).

Everything else about the package is in pyproject.toml. An editable install (./dev.sh)
skips this: the README's commands build the canvas in place when it is missing or stale.
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithCanvas(build_py):
    def run(self):
        if not getattr(self, "editable_mode", False):
            spec = importlib.util.spec_from_file_location(
                "canvas_build", HERE / "builder" / "ui" / "canvas_build.py")
            canvas_build = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(canvas_build)
            try:
                canvas_build.build()
            except canvas_build.CanvasBuildError as exc:
                raise SystemExit(f"error: {exc}") from exc
        super().run()


setup(cmdclass={"build_py": BuildPyWithCanvas})
