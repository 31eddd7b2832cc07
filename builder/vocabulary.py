"""Words the whole engine shares: the tasks a model can learn, how a shape is written, and
which text is a date.

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

# A date as data carries it: ISO 8601 text, "2024-01-31" or "2024-01-31 12:00" (seconds,
# fractions and a zone optional). Column detection and the model's date layer both match
# it, so a column is a date column exactly when the model can read its values.
DATE_PATTERN = (r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                r"(?:Z|[+-]\d{2}:?\d{2})?")


def format_shape(shape) -> str:
    """A tensor shape as Keras writes it, a Python tuple: ``(None, 28, 28, 1)``, ``(30,)``;
    an unknown dimension is ``None``, an unknown shape ``"?"``."""
    if shape is None:
        return "?"
    items = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
