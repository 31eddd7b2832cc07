"""Every layer type Neural Canvas offers, declared once.

Each :class:`LayerType` feeds the palette, the inspector form, the validator, the
compiler and the code generator. Type ids are stable strings: a design saved with
them must keep loading.

No entry runs user code: there is no Lambda layer, and parameters are plain
numbers, booleans, choices or lists of integers, checked before any Keras layer is
made.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACTIVATIONS = (
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "gelu",
    "leaky_relu",
    "elu",
    "swish",
    "linear",
)
PADDINGS = ("valid", "same")
DTYPES = ("float32", "int32")

# Bounds that keep a design from asking for absurd amounts of memory before any
# layer is built. The validator adds a per-layer parameter budget on top.
MAX_UNITS = 65_536
MAX_FILTERS = 4_096
MAX_KERNEL = 64
MAX_DIM = 100_000
MAX_VOCAB = 1_000_000


@dataclass(frozen=True)
class Param:
    """One parameter of a layer type.

    Kinds: ``int``, ``float``, ``bool``, ``choice``, ``shape`` (a list of positive
    integers) and ``ints`` (a list of integers in which ``-1`` may appear once, as
    Keras's Reshape allows).
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    optional: bool = False
    label: str = ""

    @property
    def display_name(self) -> str:
        """The parameter's label for forms: its own label, or its name in words."""
        return self.label or self.name.replace("_", " ")


@dataclass(frozen=True)
class KerasVariant:
    """A parameter value that is another Keras class with fixed arguments.

    Activation's ``"leaky_relu"`` is built as ``LeakyReLU(negative_slope=0.2)``; the
    compiler and the code generator build it so and the importer reads that class back
    as this value. ``import_only`` variants are only read back (a Keras ``ReLU`` layer
    with these arguments is Activation ``"relu"``), never built.
    """

    param: str
    value: Any
    keras_class: str
    fixed: dict[str, Any] = field(default_factory=dict)
    import_only: bool = False


@dataclass(frozen=True)
class KerasWrapper:
    """A yes/no parameter that wraps the layer in another Keras layer when on.

    The recurrent layers' ``bidirectional`` is ``Bidirectional(<layer named
    <name><inner_suffix>>, name=<name>, **fixed)``; ``inner_attribute`` is where the
    wrapper keeps the layer it wraps (for reading a built one).
    """

    param: str
    keras_class: str
    inner_suffix: str = "_cell"
    inner_attribute: str = "forward_layer"
    fixed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KerasCall:
    """How one node is made in Keras: ``keras_class(**kwargs)``, wrapped when ``wrapper``
    is set; what the compiler builds and the code generator writes."""

    keras_class: str
    kwargs: dict[str, Any]
    wrapper: KerasWrapper | None = None


@dataclass(frozen=True)
class LayerType:
    """The single declaration of one layer type.

    Attributes:
        type_id: stable id saved in designs, e.g. ``"Conv2D"``.
        category: palette group.
        title: name shown to people.
        help: one sentence a learner understands.
        params: the parameters, in the order quick-add text fills them.
        min_inputs / max_inputs: how many incoming edges it takes (``None``: any).
        key_params: parameters shown on the node face.
        keras_class: the Keras layer class name it builds (used by code
            generation and import); empty for Input.
        input_rank: rank (with batch) the input must have, as ``(low, high)``;
            ``None`` for no check.
        build: makes the Keras layer from checked params and a layer name.
        call_style: how the layer is called on its inputs: ``single`` (one
            tensor), ``list`` (a list of tensors, merges) or ``attention``
            (query and value, self-attention when one input).
        input_names: names of the ordered inputs for multi-input layers.
        keras_args: a parameter whose Keras argument has another name, by parameter
            name (RandomZoom's ``factor`` is Keras's ``height_factor``); the compiler,
            the code generator and the importer all read it here.
        keeps_values: the layer passes its input's values on unchanged when predicting
            (Dropout, Flatten, Reshape), so the activation before it is still the
            output's: the code generator reads an output's task through it.
        variants: parameter values that are other Keras classes (:class:`KerasVariant`).
        wrapper: a parameter that wraps the layer in another (:class:`KerasWrapper`).
    """

    type_id: str
    category: str
    title: str
    help: str
    params: tuple[Param, ...]
    min_inputs: int = 1
    max_inputs: int | None = 1
    key_params: tuple[str, ...] = ()
    keras_class: str = ""
    input_rank: tuple[int, int] | None = None
    build: Callable[[dict, str], Any] | None = field(default=None, compare=False, repr=False)
    call_style: str = "single"
    input_names: tuple[str, ...] = ()
    keras_args: dict[str, str] = field(default_factory=dict, compare=False)
    keeps_values: bool = False
    variants: tuple[KerasVariant, ...] = field(default=(), compare=False)
    wrapper: KerasWrapper | None = field(default=None, compare=False)

    def keras_arg(self, param_name: str) -> str:
        """The Keras argument a parameter is passed as."""
        return self.keras_args.get(param_name, param_name)

    def keras_call(self, params: dict) -> KerasCall:
        """The Keras class and arguments for checked ``params`` (see :class:`KerasCall`):
        a variant's class when a parameter has its value, arguments renamed through
        ``keras_args``, the wrapper's parameter taken out."""
        for variant in self.variants:
            if not variant.import_only and params.get(variant.param) == variant.value:
                rest = {self.keras_arg(k): v for k, v in params.items() if k != variant.param}
                return KerasCall(variant.keras_class, {**rest, **variant.fixed})
        wrapper = self.wrapper if self.wrapper and params.get(self.wrapper.param) else None
        kwargs = {self.keras_arg(k): v for k, v in params.items()
                  if not (self.wrapper and k == self.wrapper.param)}
        return KerasCall(self.keras_class, kwargs, wrapper)

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, or None."""
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def is_input(self) -> bool:
        return self.type_id == "Input"

    @property
    def is_merge(self) -> bool:
        return self.call_style == "list"


# ---------------------------------------------------------------------------
# Parameter helpers: small factories so each declaration below reads as a table.


def _int(name, default, help, lo=1, hi=MAX_UNITS, optional=False, label=""):
    return Param(name, "int", default, help, lo, hi, optional=optional, label=label)


def _float(name, default, help, lo=0.0, hi=1.0, label=""):
    return Param(name, "float", default, help, lo, hi, label=label)


def _bool(name, default, help, label=""):
    return Param(name, "bool", default, help, label=label)


def _choice(name, default, choices, help, label=""):
    return Param(name, "choice", default, help, choices=tuple(choices), label=label)


def _activation(default="relu"):
    return _choice("activation", default, ACTIVATIONS, "The non-linearity applied to the output.")


def _filters(default=32):
    return _int("filters", default, "How many filters (output channels) the layer learns.",
                hi=MAX_FILTERS)


def _kernel(default=3):
    return _int("kernel_size", default, "Width of the sliding window, in steps or pixels.",
                hi=MAX_KERNEL, label="kernel size")


def _strides(default=1):
    return _int("strides", default, "How far the window moves each step.", hi=MAX_KERNEL)


def _padding(default="valid"):
    return _choice("padding", default, PADDINGS,
                   "'valid' shrinks the output by the window; 'same' keeps its size.")


def _pool(default=2):
    return _int("pool_size", default, "Size of the window each output summarises.",
                hi=MAX_KERNEL, label="pool size")


def _pool_strides():
    return _int("strides", None, "How far the window moves; empty means the pool size.",
                hi=MAX_KERNEL, optional=True)


# ---------------------------------------------------------------------------
# Builders. Imports of keras happen inside so that importing the catalog (for the
# palette, the parser, the CLI help) stays cheap.


def _keras_layers():
    import keras

    return keras.layers


def _activation_arg(name: str):
    return None if name == "linear" else name


def _simple(class_name: str, **fixed) -> Callable[[dict, str], Any]:
    """A builder that passes the checked params straight to a Keras layer class."""

    def build(params: dict, name: str):
        cls = getattr(_keras_layers(), class_name)
        kwargs = {k: v for k, v in params.items()}
        if "activation" in kwargs:
            kwargs["activation"] = _activation_arg(kwargs["activation"])
        kwargs.update(fixed)
        return cls(name=name, **kwargs)

    return build


# The canvas's "leaky_relu" activation is a LeakyReLU layer with this slope (Keras's
# "leaky_relu" activation function would use 0.2 as well, but a layer keeps it visible).
LEAKY_RELU_SLOPE = 0.2


def _declared(type_id: str) -> Callable[[dict, str], Any]:
    """A builder that makes exactly what the entry's :meth:`LayerType.keras_call` says."""

    def build(params: dict, name: str):
        layers = _keras_layers()
        call = get(type_id).keras_call(params)
        if call.wrapper is None:
            return getattr(layers, call.keras_class)(name=name, **call.kwargs)
        inner = getattr(layers, call.keras_class)(name=f"{name}{call.wrapper.inner_suffix}",
                                                  **call.kwargs)
        return getattr(layers, call.wrapper.keras_class)(inner, name=name, **call.wrapper.fixed)

    return build


def _build_reshape(params: dict, name: str):
    return _keras_layers().Reshape(tuple(params["target_shape"]), name=name)


def _build_pool(class_name: str) -> Callable[[dict, str], Any]:
    def build(params: dict, name: str):
        cls = getattr(_keras_layers(), class_name)
        return cls(pool_size=params["pool_size"], strides=params["strides"],
                   padding=params["padding"], name=name)

    return build


def _build_attention(params: dict, name: str):
    return _keras_layers().MultiHeadAttention(
        num_heads=params["num_heads"], key_dim=params["key_dim"], dropout=params["dropout"],
        name=name,
    )


def _build_position_embedding(params: dict, name: str):
    from builder.custom_layers import PositionEmbedding

    return PositionEmbedding(max_length=params["max_length"], name=name)


# ---------------------------------------------------------------------------
# The catalog.

LAYER_TYPES: tuple[LayerType, ...] = (
    # Input ------------------------------------------------------------------
    LayerType(
        "Input", "Input", "Input",
        "Where data enters the network: one sample's shape, without the batch.",
        (
            Param("shape", "shape", [4], "The shape of one sample, e.g. 28, 28, 1 for a "
                  "grayscale image or 20 for a row of 20 numbers.", 1, MAX_DIM),
            _choice("dtype", "float32", DTYPES,
                    "Numbers (float32) or whole-number token ids (int32)."),
        ),
        min_inputs=0, max_inputs=0, key_params=("shape",),
    ),
    # Core -------------------------------------------------------------------
    LayerType(
        "Dense", "Core", "Dense",
        "Every input connects to every unit: the basic fully connected layer.",
        (
            _int("units", 32, "How many neurons (outputs) the layer has."),
            _activation("relu"),
            _bool("use_bias", True, "Add a learned bias to each unit.", label="use bias"),
        ),
        key_params=("units", "activation"), keras_class="Dense", input_rank=(2, 8),
        build=_simple("Dense"),
    ),
    LayerType(
        "Activation", "Core", "Activation",
        "Applies a non-linearity to every value; it learns nothing.",
        (_activation("relu"),),
        key_params=("activation",), keras_class="Activation", build=_declared("Activation"),
        variants=(
            KerasVariant("activation", "leaky_relu", "LeakyReLU",
                         {"negative_slope": LEAKY_RELU_SLOPE}),
            KerasVariant("activation", "relu", "ReLU",
                         {"max_value": None, "negative_slope": 0.0, "threshold": 0.0},
                         import_only=True),
            KerasVariant("activation", "softmax", "Softmax", {"axis": -1}, import_only=True),
            KerasVariant("activation", "elu", "ELU", {"alpha": 1.0}, import_only=True),
        ),
    ),
    LayerType(
        "Dropout", "Core", "Dropout",
        "While training, zeroes a random share of values so the network cannot rely on any "
        "one of them.",
        (_float("rate", 0.5, "Share of values dropped while training.", 0.0, 0.95),),
        key_params=("rate",), keras_class="Dropout", build=_simple("Dropout"),
        keeps_values=True,
    ),
    # Normalization ------------------------------------------------------------
    LayerType(
        "BatchNormalization", "Normalization", "Batch normalization",
        "Rescales each channel to mean 0 and variance 1 over the batch; speeds up training.",
        (
            _float("momentum", 0.99, "How slowly the running statistics follow the batches.",
                   0.0, 0.9999),
            _float("epsilon", 0.001, "Small number that avoids division by zero.", 1e-8, 1.0),
        ),
        keras_class="BatchNormalization", input_rank=(2, 8),
        build=_simple("BatchNormalization"),
    ),
    LayerType(
        "LayerNormalization", "Normalization", "Layer normalization",
        "Rescales each sample's features to mean 0 and variance 1; used in Transformers.",
        (_float("epsilon", 0.001, "Small number that avoids division by zero.", 1e-8, 1.0),),
        keras_class="LayerNormalization", input_rank=(2, 8),
        build=_simple("LayerNormalization"),
    ),
    LayerType(
        "Rescaling", "Normalization", "Rescaling",
        "Multiplies by a scale and adds an offset, e.g. 1/255 to bring pixels into 0..1.",
        (
            _float("scale", 1 / 255, "Factor every value is multiplied by.", -1e6, 1e6),
            _float("offset", 0.0, "Value added after scaling.", -1e6, 1e6),
        ),
        key_params=("scale",), keras_class="Rescaling", build=_simple("Rescaling"),
    ),
    # Reshaping -----------------------------------------------------------------
    LayerType(
        "Flatten", "Reshaping", "Flatten",
        "Unrolls an image or sequence into one long vector, e.g. before Dense layers.",
        (), keras_class="Flatten", input_rank=(3, 8), build=_simple("Flatten"),
        keeps_values=True,
    ),
    LayerType(
        "Reshape", "Reshaping", "Reshape",
        "Rearranges the values into a new shape with the same number of values.",
        (Param("target_shape", "ints", [4, 1], "The new shape without the batch; one -1 "
               "lets Keras work that size out.", -1, MAX_DIM, label="target shape"),),
        key_params=("target_shape",), keras_class="Reshape", build=_build_reshape,
        keeps_values=True,
    ),
    LayerType(
        "UpSampling2D", "Reshaping", "Up-sampling 2D",
        "Makes an image larger by repeating (or interpolating) its pixels.",
        (
            _int("size", 2, "How many times larger in each direction.", hi=16),
            _choice("interpolation", "nearest", ("nearest", "bilinear"),
                    "How new pixels are filled in."),
        ),
        key_params=("size",), keras_class="UpSampling2D", input_rank=(4, 4),
        build=_simple("UpSampling2D"),
    ),
    LayerType(
        "ZeroPadding2D", "Reshaping", "Zero padding 2D",
        "Adds a border of zeros around an image.",
        (_int("padding", 1, "Border width in pixels on every side.", hi=MAX_KERNEL),),
        key_params=("padding",), keras_class="ZeroPadding2D", input_rank=(4, 4),
        build=_simple("ZeroPadding2D"),
    ),
    # Convolution ---------------------------------------------------------------
    LayerType(
        "Conv1D", "Convolution", "Convolution 1D",
        "Slides small learned filters along a sequence to find local patterns.",
        (_filters(), _kernel(), _strides(), _padding(), _activation("relu")),
        key_params=("filters", "kernel_size", "activation"), keras_class="Conv1D",
        input_rank=(3, 3), build=_simple("Conv1D"),
    ),
    LayerType(
        "Conv2D", "Convolution", "Convolution 2D",
        "Slides small learned filters over an image to find edges, textures and shapes.",
        (_filters(), _kernel(), _strides(), _padding(), _activation("relu")),
        key_params=("filters", "kernel_size", "activation"), keras_class="Conv2D",
        input_rank=(4, 4), build=_simple("Conv2D"),
    ),
    LayerType(
        "Conv2DTranspose", "Convolution", "Transposed convolution 2D",
        "The reverse of a strided convolution: learns to make an image larger.",
        (_filters(), _kernel(), _strides(2), _padding("same"), _activation("relu")),
        key_params=("filters", "kernel_size", "strides"), keras_class="Conv2DTranspose",
        input_rank=(4, 4), build=_simple("Conv2DTranspose"),
    ),
    LayerType(
        "SeparableConv2D", "Convolution", "Separable convolution 2D",
        "A cheaper convolution: filters each channel alone, then mixes channels.",
        (_filters(), _kernel(), _strides(), _padding(), _activation("relu")),
        key_params=("filters", "kernel_size", "activation"), keras_class="SeparableConv2D",
        input_rank=(4, 4), build=_simple("SeparableConv2D"),
    ),
    # Pooling ---------------------------------------------------------------------
    LayerType(
        "MaxPooling1D", "Pooling", "Max pooling 1D",
        "Keeps the largest value of each window along a sequence; shortens it.",
        (_pool(), _pool_strides(), _padding()),
        key_params=("pool_size",), keras_class="MaxPooling1D", input_rank=(3, 3),
        build=_build_pool("MaxPooling1D"),
    ),
    LayerType(
        "MaxPooling2D", "Pooling", "Max pooling 2D",
        "Keeps the largest value of each window; halves an image with the default size.",
        (_pool(), _pool_strides(), _padding()),
        key_params=("pool_size",), keras_class="MaxPooling2D", input_rank=(4, 4),
        build=_build_pool("MaxPooling2D"),
    ),
    LayerType(
        "AveragePooling1D", "Pooling", "Average pooling 1D",
        "Averages each window along a sequence; shortens it.",
        (_pool(), _pool_strides(), _padding()),
        key_params=("pool_size",), keras_class="AveragePooling1D", input_rank=(3, 3),
        build=_build_pool("AveragePooling1D"),
    ),
    LayerType(
        "AveragePooling2D", "Pooling", "Average pooling 2D",
        "Averages each window of an image; halves it with the default size.",
        (_pool(), _pool_strides(), _padding()),
        key_params=("pool_size",), keras_class="AveragePooling2D", input_rank=(4, 4),
        build=_build_pool("AveragePooling2D"),
    ),
    LayerType(
        "GlobalAveragePooling1D", "Pooling", "Global average pooling 1D",
        "Averages over the whole sequence: one value per channel.",
        (), keras_class="GlobalAveragePooling1D", input_rank=(3, 3),
        build=_simple("GlobalAveragePooling1D"),
    ),
    LayerType(
        "GlobalAveragePooling2D", "Pooling", "Global average pooling 2D",
        "Averages over the whole image: one value per channel.",
        (), keras_class="GlobalAveragePooling2D", input_rank=(4, 4),
        build=_simple("GlobalAveragePooling2D"),
    ),
    LayerType(
        "GlobalMaxPooling1D", "Pooling", "Global max pooling 1D",
        "Keeps the largest value over the whole sequence: one value per channel.",
        (), keras_class="GlobalMaxPooling1D", input_rank=(3, 3),
        build=_simple("GlobalMaxPooling1D"),
    ),
    LayerType(
        "GlobalMaxPooling2D", "Pooling", "Global max pooling 2D",
        "Keeps the largest value over the whole image: one value per channel.",
        (), keras_class="GlobalMaxPooling2D", input_rank=(4, 4),
        build=_simple("GlobalMaxPooling2D"),
    ),
    # Embedding ---------------------------------------------------------------------
    LayerType(
        "Embedding", "Embedding", "Embedding",
        "Turns token ids (whole numbers) into learned vectors.",
        (
            _int("input_dim", 1000, "Vocabulary size: token ids run from 0 to this minus 1.",
                 hi=MAX_VOCAB, label="vocabulary size"),
            _int("output_dim", 32, "Length of each token's vector.", hi=4096,
                 label="vector size"),
        ),
        key_params=("input_dim", "output_dim"), keras_class="Embedding", input_rank=(2, 2),
        build=_simple("Embedding"),
    ),
    LayerType(
        "PositionEmbedding", "Embedding", "Position embedding",
        "Adds a learned vector for each position, so attention knows the order of tokens.",
        (_int("max_length", 512, "Longest sequence it accepts.", hi=MAX_DIM,
              label="max length"),),
        key_params=("max_length",), keras_class="PositionEmbedding", input_rank=(3, 3),
        build=_build_position_embedding,
    ),
    # Recurrent -----------------------------------------------------------------------
    *(
        LayerType(
            type_id, "Recurrent", title, help,
            (
                _int("units", 32, "Size of the memory (hidden state).", hi=8192),
                _bool("return_sequences", False, "Output every time step (for another "
                      "recurrent layer) instead of only the last.", label="return sequences"),
                _bool("bidirectional", False, "Also read the sequence backwards and join "
                      "both readings."),
                _float("dropout", 0.0, "Share of inputs dropped while training.", 0.0, 0.95),
            ),
            key_params=("units", "return_sequences", "bidirectional"), keras_class=type_id,
            input_rank=(3, 3), build=_declared(type_id),
            wrapper=KerasWrapper("bidirectional", "Bidirectional",
                                 fixed={"merge_mode": "concat"}),
        )
        for type_id, title, help in (
            ("SimpleRNN", "Simple RNN",
             "Reads a sequence step by step, carrying a memory forward."),
            ("LSTM", "LSTM",
             "A recurrent layer with gates that remember over long sequences."),
            ("GRU", "GRU", "A lighter gated recurrent layer, often as good as an LSTM."),
        )
    ),
    # Attention ------------------------------------------------------------------------
    LayerType(
        "MultiHeadAttention", "Attention", "Multi-head attention",
        "Each position looks at every other and mixes in what is relevant. One input: "
        "self-attention; two: the first asks (query), the second answers (value); a third "
        "gives the keys the query is matched against (the value by default).",
        (
            _int("num_heads", 4, "How many attention heads look in parallel.", hi=128,
                 label="heads"),
            _int("key_dim", 16, "Size of each head's query and key vectors.", hi=1024,
                 label="key size"),
            _float("dropout", 0.0, "Share of attention weights dropped while training.",
                   0.0, 0.95),
        ),
        min_inputs=1, max_inputs=3, key_params=("num_heads", "key_dim"),
        keras_class="MultiHeadAttention", input_rank=(3, 3), build=_build_attention,
        call_style="attention", input_names=("query", "value", "key"),
    ),
    # Merge ----------------------------------------------------------------------------
    *(
        LayerType(
            type_id, "Merge", type_id, help, (), min_inputs=2,
            max_inputs=2 if type_id == "Subtract" else None,
            keras_class=type_id, build=_simple(type_id), call_style="list",
            input_names=("first", "second") if type_id == "Subtract" else (),
        )
        for type_id, help in (
            ("Add", "Adds its inputs element by element: the skip connection of ResNets."),
            ("Subtract", "Subtracts the second input from the first, element by element."),
            ("Multiply", "Multiplies its inputs element by element (gating)."),
            ("Average", "Averages its inputs element by element."),
        )
    ),
    LayerType(
        "Concatenate", "Merge", "Concatenate",
        "Joins its inputs side by side along one axis, in the order of its inputs.",
        (_int("axis", -1, "The axis to join along; -1 is the last (features or channels).",
              lo=-8, hi=8),),
        min_inputs=2, max_inputs=None, key_params=("axis",), keras_class="Concatenate",
        build=_simple("Concatenate"), call_style="list",
    ),
    # Augmentation -----------------------------------------------------------------------
    LayerType(
        "RandomFlip", "Augmentation", "Random flip",
        "While training, mirrors images at random; does nothing at prediction time.",
        (_choice("mode", "horizontal", ("horizontal", "vertical", "horizontal_and_vertical"),
                 "Which way images may be mirrored."),),
        key_params=("mode",), keras_class="RandomFlip", input_rank=(4, 4),
        build=_simple("RandomFlip"),
    ),
    LayerType(
        "RandomRotation", "Augmentation", "Random rotation",
        "While training, rotates images by a random angle.",
        (_float("factor", 0.1, "Largest turn as a share of a full circle (0.1 = 36 degrees).",
                0.0, 1.0),),
        key_params=("factor",), keras_class="RandomRotation", input_rank=(4, 4),
        build=_simple("RandomRotation"),
    ),
    LayerType(
        "RandomZoom", "Augmentation", "Random zoom",
        "While training, zooms images in or out at random.",
        (_float("factor", 0.1, "Largest zoom as a share of the image size.", 0.0, 0.9),),
        key_params=("factor",), keras_class="RandomZoom", input_rank=(4, 4),
        build=_declared("RandomZoom"), keras_args={"factor": "height_factor"},
    ),
    LayerType(
        "RandomTranslation", "Augmentation", "Random translation",
        "While training, shifts images up, down, left or right at random.",
        (
            _float("height_factor", 0.1, "Largest vertical shift as a share of the height.",
                   0.0, 0.9, label="height factor"),
            _float("width_factor", 0.1, "Largest horizontal shift as a share of the width.",
                   0.0, 0.9, label="width factor"),
        ),
        key_params=("height_factor", "width_factor"), keras_class="RandomTranslation",
        input_rank=(4, 4), build=_simple("RandomTranslation"),
    ),
    LayerType(
        "RandomContrast", "Augmentation", "Random contrast",
        "While training, changes image contrast at random.",
        (_float("factor", 0.2, "Largest contrast change as a share.", 0.0, 1.0),),
        key_params=("factor",), keras_class="RandomContrast", input_rank=(4, 4),
        build=_simple("RandomContrast"),
    ),
)

CATEGORY_ORDER = (
    "Input",
    "Core",
    "Convolution",
    "Pooling",
    "Normalization",
    "Reshaping",
    "Embedding",
    "Recurrent",
    "Attention",
    "Merge",
    "Augmentation",
)

_BY_ID = {layer_type.type_id: layer_type for layer_type in LAYER_TYPES}


def get(type_id: Any) -> LayerType | None:
    """The layer type with this id, or None when there is none (or the id is not text)."""
    if not isinstance(type_id, str):
        return None
    return _BY_ID.get(type_id)


def all_types() -> list[LayerType]:
    """Every layer type, in palette order."""
    return sorted(LAYER_TYPES, key=lambda t: CATEGORY_ORDER.index(t.category))


def by_category() -> dict[str, list[LayerType]]:
    """Layer types grouped by category, categories in palette order."""
    groups: dict[str, list[LayerType]] = {c: [] for c in CATEGORY_ORDER}
    for layer_type in LAYER_TYPES:
        groups[layer_type.category].append(layer_type)
    return {c: types for c, types in groups.items() if types}


def default_params(type_id: str) -> dict:
    """A fresh dict of the default parameters of ``type_id``.

    Raises:
        KeyError: when the type id is unknown.
    """
    layer_type = _BY_ID[type_id]
    return {p.name: _copy_default(p.default) for p in layer_type.params}


def _copy_default(value):
    return list(value) if isinstance(value, list) else value


def find_type(name: str) -> LayerType | None:
    """Find a layer type by id or title, ignoring case, spaces and underscores."""

    def fold(text: str) -> str:
        return text.lower().replace(" ", "").replace("_", "").replace("-", "")

    wanted = fold(name)
    for layer_type in LAYER_TYPES:
        if wanted in (fold(layer_type.type_id), fold(layer_type.title)):
            return layer_type
    return None


def check_params(layer_type: LayerType, params: Any) -> tuple[dict, list[tuple[str, str]]]:
    """Check and normalise a node's parameters against its declaration.

    Missing parameters take their defaults; unknown ones are reported. Values of
    the wrong type are reported, not coerced silently (a whole-number float such
    as 32.0 is accepted as 32, since JSON writers produce them).

    Returns:
        ``(clean, problems)``: the parameters to build with, and a list of
        ``(param_name, sentence)`` for every value that cannot be used.
    """
    problems: list[tuple[str, str]] = []
    clean: dict = {}
    if not isinstance(params, dict):
        problems.append(("", f"{layer_type.title} parameters must be a mapping of names to "
                             f"values; got {_show(params)}. Reset the node's parameters."))
        params = {}
    for name in params:
        if layer_type.param(name) is None:
            known = ", ".join(p.name for p in layer_type.params) or "none"
            problems.append((str(name), f"{layer_type.title} has no parameter {_show(name)}; "
                                        f"its parameters are: {known}. Remove it."))
    for param in layer_type.params:
        raw = params.get(param.name, _copy_default(param.default))
        value, message = _check_value(layer_type, param, raw)
        if message:
            problems.append((param.name, message))
        else:
            clean[param.name] = value
    return clean, problems


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_value(layer_type: LayerType, param: Param, raw: Any) -> tuple[Any, str]:
    """Return ``(value, "")`` when usable, or ``(None, sentence)``."""
    where = f"{layer_type.title} '{param.name}'"
    if raw is None:
        if param.optional:
            return None, ""
        return None, f"{where} needs a value; got nothing. Enter a value (default {param.default})."
    if param.kind == "bool":
        if isinstance(raw, bool):
            return raw, ""
        return None, f"{where} must be true or false; got {_show(raw)}."
    if param.kind == "choice":
        if raw in param.choices:
            return raw, ""
        options = ", ".join(str(c) for c in param.choices)
        return None, f"{where} must be one of {options}; got {_show(raw)}."
    if param.kind == "int":
        value = _as_int(raw)
        if value is None:
            return None, f"{where} must be a whole number; got {_show(raw)}."
        return _check_bounds(where, param, value)
    if param.kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            return None, f"{where} must be a number; got {_show(raw)}."
        return _check_bounds(where, param, float(raw))
    if param.kind in ("shape", "ints"):
        return _check_int_list(where, param, raw)
    return None, f"{where} has an unknown kind {param.kind!r}."  # a catalog bug, not user input


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw) and raw == int(raw):
        return int(raw)
    return None


def _check_bounds(where: str, param: Param, value):
    if param.minimum is not None and value < param.minimum:
        return None, f"{where} must be at least {_fmt(param.minimum)}; got {_fmt(value)}."
    if param.maximum is not None and value > param.maximum:
        return None, f"{where} must be at most {_fmt(param.maximum)}; got {_fmt(value)}."
    return value, ""


def _fmt(number) -> str:
    if isinstance(number, float) and number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return f"{number:g}" if isinstance(number, float) else str(number)


def _check_int_list(where: str, param: Param, raw: Any):
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not 1 <= len(raw) <= 4:
        return None, (f"{where} must be a list of 1 to 4 whole numbers, e.g. [28, 28, 1]; "
                      f"got {_show(raw)}.")
    values = [_as_int(v) for v in raw]
    if any(v is None for v in values):
        return None, f"{where} must hold whole numbers only; got {_show(raw)}."
    if param.kind == "shape":
        if any(v < 1 for v in values):
            return None, f"{where} sizes must be positive; got {_show(raw)}."
    else:
        if any(v == 0 or v < -1 for v in values) or values.count(-1) > 1:
            return None, (f"{where} sizes must be positive, with at most one -1; "
                          f"got {_show(raw)}.")
    too_big = [v for v in values if param.maximum is not None and v > param.maximum]
    if too_big:
        return None, f"{where} sizes must be at most {_fmt(param.maximum)}; got {_show(raw)}."
    return values, ""
