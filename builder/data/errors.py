"""The one error type data loading raises for bad input."""

from __future__ import annotations


class DataError(ValueError):
    """Input data that cannot be used, with what is wrong and how to fix it.

    Attributes:
        problem: a sentence naming what is wrong, with the value received.
        fix: a sentence saying what the person can do about it.
        code: a stable machine-readable code, e.g. ``"empty_file"``.
    """

    def __init__(self, problem: str, fix: str, code: str = "bad_data"):
        self.problem = problem.strip()
        self.fix = fix.strip()
        self.code = code
        super().__init__(f"{self.problem} {self.fix}")

    def to_dict(self) -> dict:
        return {"code": self.code, "problem": self.problem, "fix": self.fix}
