"""Fixtures for the data tests."""

import pytest


@pytest.fixture
def uploads(tmp_path):
    """A fresh folder to extract into."""
    return tmp_path / "upload"
