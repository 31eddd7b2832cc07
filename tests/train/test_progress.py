"""Live progress: thinned points, batch values recovered."""


import pytest

from builder.train import (
    LiveProgress,
)


def test_live_progress_thins_points_and_recovers_batch_values():
    progress = LiveProgress(max_points=10)
    progress.begin(total_epochs=2, initial_epoch=0, steps_per_epoch=30, batch_size=1,
                   n_train=30)
    # Keras reports running means; a constant batch loss of 2.0 stays 2.0.
    for step in range(30):
        progress.batch(0, step, {"loss": 2.0})
    snapshot = progress.snapshot()
    assert len(snapshot.batch_x) <= 10
    assert snapshot.batch_series["loss"] == pytest.approx([2.0] * len(snapshot.batch_x))
    assert snapshot.fraction == pytest.approx(0.5)
    assert snapshot.eta_seconds is not None
