"""Train, validation and test splits: one shuffle, then held-out rows taken evenly, per
class when labels are given. Tables, images, text and time series all split here, so a
seed means the same split everywhere."""

from __future__ import annotations

import numpy as np

from builder.data.errors import DataError

MIN_ROWS = 10


def split_indices(n: int, validation: float, test: float, seed: int,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled train/validation/test row positions; stratified when labels are given.

    Raises:
        DataError: bad fractions, or too few rows for the splits asked for.
    """
    return _split(n, validation, test, labels, _shuffle(n, seed))


def _shuffle(n: int, seed: int) -> np.ndarray:
    """The shuffled row order a split with ``seed`` starts from."""
    return np.random.default_rng(seed).permutation(n)


def _split(n: int, validation: float, test: float, labels: np.ndarray | None,
           order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`split_indices` from the shuffled row order ``order``."""
    for label, value in (("validation", validation), ("test", test)):
        if not 0 <= value <= 0.5:
            raise DataError(f"The {label} share must be between 0 and 0.5; got {value!r}.",
                            f"Choose a {label} share such as 0.15.", code="bad_split")
    if n < MIN_ROWS:
        raise DataError(f"There are only {n} usable rows; at least {MIN_ROWS} are needed to "
                        "train and check a model.", "Add more rows of data.", code="too_few_rows")
    # One shuffle of all rows; each class then takes its rows in shuffled order, so
    # every split comes out shuffled with its classes mixed, without sorting rows.
    if labels is None:
        groups = [np.arange(n)]
    else:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" or (len(labels) and labels.min() < 0):
            labels = np.unique(labels, return_inverse=True)[1].ravel()
        shuffled = labels[order]
        counts = np.bincount(shuffled)
        if np.count_nonzero(counts) <= 8:
            groups = [np.flatnonzero(shuffled == c) for c in np.flatnonzero(counts)]
        else:
            by_class = np.argsort(shuffled, kind="stable")
            groups = np.split(by_class, np.cumsum(counts)[:-1])
    # Held-out rows are taken evenly along the shuffled order (any fixed choice of
    # places picks a random set), so the training rows stay evenly mixed throughout.
    assign = np.zeros(n, np.int8)  # by position in ``order``: 0 train, 1 validation, 2 test
    for group in groups:
        n_val = int(round(len(group) * validation))
        n_test = int(round(len(group) * test))
        held = n_val + n_test
        if held >= len(group):
            continue  # a class too small to share goes to training
        if held:
            chosen = group[np.arange(held) * len(group) // held]
            assign[chosen[:n_val]] = 1
            assign[chosen[n_val:]] = 2
    train = order[assign == 0]
    held_at = np.flatnonzero(assign)  # the held-out few: picked apart without full passes
    which = assign[held_at]
    val, tst = (order[held_at[which == part]] for part in (1, 2))
    if validation > 0 and len(val) == 0:
        raise DataError(f"The {n} rows are too few for a validation split.",
                        "Add more rows, or raise the validation share.", code="too_few_rows")
    return train, val, tst
