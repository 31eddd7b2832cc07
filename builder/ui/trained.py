"""This session's last trained model, handed from the Train page to Explore and Export.

One value under one session key (:data:`builder.ui.state.TRAINED`), written in one step,
so that no page imports another and a run stopped midway cannot leave half of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.design import Design
from builder.ui import state


@dataclass(frozen=True)
class TrainedModel:
    """A model this session trained, with what Explore and Export need beside it.

    Attributes:
        run_id: the stored run it belongs to.
        design: the design it was built from (the generator's, for a GAN).
        model: the trained ``keras.Model`` on prepared inputs.
        serving_model: the end-to-end model on raw inputs, when the data has one.
        history: per-epoch rows.
        config: the training settings, as a dict.
        class_names: class labels in output order.
    """

    run_id: str
    design: Design
    model: Any
    serving_model: Any = None
    history: list[dict] = field(default_factory=list)
    config: dict | None = None
    class_names: list[str] = field(default_factory=list)


def last() -> TrainedModel | None:
    """The model this session trained last, or None."""
    return state.get(state.TRAINED)


def hand_over(trained: TrainedModel) -> None:
    state.put(state.TRAINED, trained)
