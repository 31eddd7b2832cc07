"""Undo and redo over design snapshots."""

import pytest

from builder.history import History


def test_undo_and_redo_walk_the_snapshots():
    history = History("a")
    assert history.push("b") and history.push("c")
    assert history.undo() == "b"
    assert history.undo() == "a"
    assert history.undo() is None
    assert history.redo() == "b"
    assert history.current == "b"


def test_an_unchanged_snapshot_is_not_recorded():
    history = History("a")
    assert history.push("a") is False
    assert not history.can_undo


def test_a_new_change_drops_the_redo_branch():
    history = History("a")
    history.push("b")
    history.undo()
    assert history.can_redo
    history.push("c")
    assert not history.can_redo
    assert history.redo() is None
    assert history.undo() == "a"


def test_the_oldest_snapshots_fall_off_at_the_limit():
    history = History("0", limit=3)
    for value in "1234":
        history.push(value)
    assert history.undo() == "3"
    assert history.undo() == "2"
    assert history.undo() is None


def test_reset_forgets_everything():
    history = History("a")
    history.push("b")
    history.reset("z")
    assert history.current == "z"
    assert not history.can_undo and not history.can_redo


def test_a_limit_below_two_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        History("a", limit=1)
