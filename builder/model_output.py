"""A built Keras model's output layer and its activation, read one way for everyone.

Training's fit check, the GAN pair check, saliency and the Explore page's probabilities
all ask "what activation makes this model's output?"; they ask it here.
"""

from __future__ import annotations

# Layers whose whole job is an activation, by class name: the activation they apply.
ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu",
                     "PReLU": "prelu", "Softmax": "softmax"}


def activation_name(layer) -> str:
    """The activation a layer applies last: ``"softmax"``, ``"sigmoid"``, ``"leaky_relu"``
    ...; ``"linear"`` for a layer with none (a Flatten, an Add, an Input)."""
    activation = getattr(layer, "activation", None)
    if activation is not None:
        return str(getattr(activation, "__name__", activation))
    return ACTIVATION_LAYERS.get(type(layer).__name__, "linear")


def output_layer(model, index: int = 0):
    """The layer that makes output ``index`` and its tensor, looking through the float32
    linear Activation that mixed-precision training adds after an output."""
    import keras

    from builder.keras_internals import producing_layer

    tensor = model.outputs[index]
    layer = producing_layer(tensor)
    while isinstance(layer, keras.layers.Activation) and activation_name(layer) == "linear":
        tensor = layer.input
        layer = producing_layer(tensor)
    return layer, tensor


def output_activation(model, index: int = 0) -> str:
    """The activation that makes output ``index`` (see :func:`activation_name`)."""
    return activation_name(output_layer(model, index)[0])
