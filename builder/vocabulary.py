"""Words the whole engine shares: the tasks a model can learn, and how a shape is written.

Every module that names a task or prints a shape takes it from here, so the data page,
training, the generated code and the messages cannot drift apart.
"""

from __future__ import annotations

BINARY = "binary"  # one yes/no answer per sample (a sigmoid unit, or two softmax units)
MULTICLASS = "multiclass"  # one of three or more classes (softmax over the classes)
REGRESSION = "regression"  # numbers in the target's units
RECONSTRUCTION = "reconstruction"  # the input back (autoencoders)
TASKS = (BINARY, MULTICLASS, REGRESSION, RECONSTRUCTION)
CLASSIFICATION_TASKS = (BINARY, MULTICLASS)


def format_shape(shape) -> str:
    """A tensor shape as Keras writes it, a Python tuple: ``(None, 28, 28, 1)``, ``(30,)``;
    an unknown dimension is ``None``, an unknown shape ``"?"``."""
    if shape is None:
        return "?"
    items = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
