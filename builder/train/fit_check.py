"""Whether a design's model fits the data and the loss, before anything trains: one
sentence per mismatch, naming the node and the fix.
"""

from __future__ import annotations

from builder import model_output
from builder.design import Design
from builder.train.settings import (
    CROSS_ENTROPIES,
    LOSSES,
    TASK_WORDS,
    TrainConfig,
    default_loss,
)
from builder.vocabulary import format_shape


def check_fit(model, data, config: TrainConfig) -> tuple[list[str], bool]:
    """Whether the model's inputs and outputs fit the data and the loss.

    Returns:
        ``(problems, from_logits)``: sentences naming the fix, and whether the
        output gives raw scores (so cross-entropy must apply softmax/sigmoid itself).
    """
    problems: list[str] = []
    task = data.task
    from_logits = False
    if len(model.outputs) != 1:
        names = ", ".join(f"'{_node_of(t)}'" for t in model.outputs)
        problems.append(f"The design has {len(model.outputs)} outputs ({names}); training needs "
                        "exactly one. Join them (Concatenate) or remove the extra ones.")
        return problems, from_logits
    if len(model.inputs) != 1:
        names = ", ".join(f"'{_node_of(t)}'" for t in model.inputs)
        problems.append(f"The design has {len(model.inputs)} Inputs ({names}); the data gives "
                        "one input per sample. Keep one Input.")
        return problems, from_logits
    spec = data.batches("train", 2).element_spec
    x_spec, y_spec = spec[0], spec[1]
    input_shape = tuple(model.inputs[0].shape[1:])
    data_shape = tuple(x_spec.shape[1:]) if hasattr(x_spec, "shape") else None
    input_name = _node_of(model.inputs[0])
    if data_shape is not None and not _shapes_fit(input_shape, data_shape):
        problems.append(f"The Input '{input_name}' expects samples of shape "
                        f"{format_shape(input_shape)}, but the data's samples are "
                        f"{format_shape(data_shape)}. Set the Input's shape to "
                        f"{format_shape(data_shape)}.")
    output = model.outputs[0]
    out_shape = tuple(output.shape[1:])
    out_name = _node_of(output)
    activation = model_output.output_activation(model)
    loss = config.loss or default_loss(task)
    if task in ("binary", "multiclass", "regression") and len(out_shape) != 1:
        problems.append(f"The output '{out_name}' gives {format_shape(out_shape)} per sample; a "
                        f"{TASK_WORDS[task]} network must end in a vector. Add Flatten (or "
                        "global pooling) and a Dense layer at the end.")
        return problems, from_logits
    units_fit = not (task == "binary" and out_shape[-1] not in (1, 2))
    if not units_fit:
        problems.append(f"For two-class (binary) classification the output '{out_name}' must "
                        f"give 1 value per sample (sigmoid: the chance of the positive class) "
                        f"or 2 (softmax: one probability per class); it gives "
                        f"{out_shape[-1]}. Set its units to 1 with a sigmoid activation.")
    if task == "multiclass" and data.num_classes and out_shape[-1] != data.num_classes:
        problems.append(f"The data has {data.num_classes} classes, but the output '{out_name}' "
                        f"gives {out_shape[-1]} values per sample. Set its units to "
                        f"{data.num_classes} (with a softmax activation).")
    if task == "regression":
        y_shape = tuple(y_spec.shape[1:])
        targets = y_shape[-1] if y_shape else 1
        if targets is not None and out_shape[-1] != targets:
            problems.append(f"The data has {targets} target value(s) per sample, but the output "
                            f"'{out_name}' gives {out_shape[-1]}. Set its units to {targets} "
                            "with a linear activation.")
    if task == "reconstruction" and data_shape is not None and not _shapes_fit(out_shape,
                                                                               data_shape):
        problems.append(f"An autoencoder's output must have the input's shape "
                        f"{format_shape(data_shape)}; the output '{out_name}' gives "
                        f"{format_shape(out_shape)}. Change the decoder's last layers.")
    two_columns = is_two_class_softmax(task, out_shape)
    if two_columns and loss not in CROSS_ENTROPIES:
        problems.append(f"The output '{out_name}' gives 2 values per sample (one per class), "
                        f"but {LOSSES.get(loss, loss)} compares one value per sample with the "
                        "0/1 target. Choose binary cross-entropy, or set the output to 1 unit "
                        "with a sigmoid activation.")
    if two_columns and activation != "softmax":
        problems.append(f"The output '{out_name}' gives 2 values per sample with "
                        f"{activation or 'no'} activation; for two classes they must be "
                        "probabilities that sum to 1. Set its activation to softmax (or use "
                        "1 unit with a sigmoid activation).")
    elif loss in CROSS_ENTROPIES and task in ("binary", "multiclass") and units_fit \
            and not two_columns:
        wanted = "sigmoid" if task == "binary" else "softmax"
        if activation == "linear":
            from_logits = True
        elif task == "binary" and activation == "softmax":
            problems.append(f"The output '{out_name}' uses softmax over one value, which is "
                            "always 1, so nothing can be learned. Use a sigmoid activation "
                            "(or 2 units with softmax).")
        elif activation != wanted:
            problems.append(f"The output '{out_name}' uses {activation}, but cross-entropy "
                            f"needs probabilities ({wanted}) or raw scores (linear). Set its "
                            f"activation to {wanted}.")
    return problems, from_logits


def is_two_class_softmax(task: str, output_shape: tuple) -> bool:
    """Whether a binary classifier's output is two values (softmax) instead of one (sigmoid).

    Both are right for two classes: the 0/1 target then reads as a class index, the
    loss is cross-entropy over the two classes, and the binary scores (AUC,
    precision, recall) read the second value, the positive class's probability.
    """
    return task == "binary" and tuple(output_shape)[-1:] == (2,) and len(output_shape) == 1


def preflight(design: Design, data, config: TrainConfig, device_plan=None) -> list[str]:
    """Every reason a run could not start, as sentences (empty when it can start).

    Cheap enough to call when Train is pressed: the model is built without
    allocating its weights.
    """
    from builder import graph
    from builder.compile import build_model
    from builder.validate import analyze

    task = data.task
    found = config.with_task(task).problems(task, data.size("train") or None,
                                            device_plan)
    report = analyze(design)
    if not report.ok:
        first = "; ".join(p.message for p in report.problems[:3])
        more = len(report.problems) - 3
        found.append(f"The design has {len(report.problems)} problem(s); fix them on the Build "
                     f"page first: {first}" + (f" (and {more} more)." if more > 0 else ""))
        return found
    with graph.no_weight_allocation():
        model = build_model(design)
        fit_problems, _ = check_fit(model, data, config.with_task(task))
    return found + fit_problems


def _node_of(tensor) -> str:
    from builder.keras_internals import layer_name_of

    return layer_name_of(tensor, "?")


def _shapes_fit(expected: tuple, given: tuple) -> bool:
    if len(expected) != len(given):
        return False
    return all(e is None or g is None or e == g for e, g in zip(expected, given))
