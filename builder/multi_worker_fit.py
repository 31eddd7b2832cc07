"""Two repairs that let Keras 3's ``fit`` train under MultiWorkerMirroredStrategy.

Keras 3.15 ``fit`` fails on a cluster of two or more workers (keras-team/keras#20585;
one worker is fine, which is why the bug hides in single-machine tests):

- before the first step it averages the first distributed batch across the workers
  to build the loss and metrics (``strategy.reduce`` of a PerReplica batch fails);
- after each step it averages the metric results with ``strategy.reduce("MEAN", v,
  axis=0)``, but the results are scalars, which have no axis 0.

:func:`prepare` builds the model from this worker's own first batch (building needs
only shapes and dtypes), and averages the per-step results over the workers with
``axis=None``. Both touch Keras internals, reached through builder.keras_internals
(tests/test_keras_internals.py and the two-worker test in tests/test_readme_commands.py
fail loudly if a Keras upgrade moves them).
"""

from __future__ import annotations

import threading

from builder import keras_internals

_PATCH_LOCK = threading.Lock()


def prepare(model, train_ds) -> None:
    """Make ``model.fit`` work on a multi-worker strategy; call inside its scope."""
    _average_step_results_over_workers()
    batch = next(iter(train_ds))
    keras_internals.build_once_from_batch(model, batch)


def _average_step_results_over_workers() -> None:
    import tensorflow as tf

    trainer = keras_internals.tensorflow_trainer()
    with _PATCH_LOCK:
        original = trainer.reduce_per_replica
        if getattr(original, "_neural_canvas", False):
            return

        def reduce_per_replica(values, strategy, reduction):
            multi_worker = (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                            and strategy.extended._in_multi_worker_mode())
            if not multi_worker or reduction not in ("auto", "mean"):
                return original(values, strategy, reduction)
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None),
                                         values)

        reduce_per_replica._neural_canvas = True
        trainer.reduce_per_replica = reduce_per_replica
