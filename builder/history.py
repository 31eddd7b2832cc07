"""Undo and redo over snapshots of the design JSON.

A snapshot is the whole design as text, so undo never depends on how a change was
made (palette, canvas drag, inspector, upload) and a restored snapshot is exactly
what was there.
"""

from __future__ import annotations

DEFAULT_LIMIT = 100


class History:
    """A bounded undo/redo stack of design snapshots.

    Args:
        initial: the snapshot to start from (the design as opened).
        limit: how many snapshots to keep; the oldest are dropped first.
    """

    def __init__(self, initial: str, limit: int = DEFAULT_LIMIT):
        if limit < 2:
            raise ValueError(f"History needs a limit of at least 2 snapshots; got {limit}.")
        self.limit = limit
        self._past: list[str] = []
        self._current = initial
        self._future: list[str] = []

    @property
    def current(self) -> str:
        return self._current

    @property
    def can_undo(self) -> bool:
        return bool(self._past)

    @property
    def can_redo(self) -> bool:
        return bool(self._future)

    def holds(self, snapshot: str) -> bool:
        """Whether ``snapshot`` is one of this history's states (past, current or undone)."""
        return snapshot == self._current or snapshot in self._past or snapshot in self._future

    def reset(self, snapshot: str) -> None:
        """Forget everything and start again from ``snapshot`` (a design was opened)."""
        self._past.clear()
        self._future.clear()
        self._current = snapshot

    def push(self, snapshot: str) -> bool:
        """Record a new state; returns False (and records nothing) when it is unchanged."""
        if snapshot == self._current:
            return False
        self._past.append(self._current)
        if len(self._past) > self.limit - 1:
            del self._past[0]
        self._current = snapshot
        self._future.clear()
        return True

    def undo(self) -> str | None:
        """Step back; the snapshot to restore, or None when there is nothing to undo."""
        if not self._past:
            return None
        self._future.append(self._current)
        self._current = self._past.pop()
        return self._current

    def redo(self) -> str | None:
        """Step forward again; the snapshot to restore, or None when there is nothing."""
        if not self._future:
            return None
        self._past.append(self._current)
        self._current = self._future.pop()
        return self._current
