"""Quick-add text: a layer typed as words, e.g. ``Conv2D 32 3 relu`` or ``Dense 10 softmax``.

The first word (or words, for titles such as ``Batch normalization``) names the
layer type. The rest fill its parameters:

- a number fills the next numeric parameter in the catalog's order (a shape takes
  all the whole numbers that follow: ``Input 28 28 1``);
- a word that is one of a parameter's choices sets it (``relu``, ``same``);
- a yes/no parameter's name turns it on (``LSTM 64 return_sequences``), ``true`` /
  ``false`` fill the next yes/no parameter;
- ``name=value`` sets a parameter by name (``Conv2D 32 3 strides=2``).

The same text is shown on each node (:func:`describe`), so the canvas teaches the
syntax. Nothing here runs code from the text: words are only compared with the
catalog.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from builder import catalog

EXAMPLES = ("Dense 10 softmax", "Conv2D 32 3 relu", "Input 28 28 1", "Dropout 0.3")
MAX_TEXT = 200
NUMERIC_KINDS = ("int", "float", "shape", "ints")
TRUE_WORDS = ("true", "yes", "on")
FALSE_WORDS = ("false", "no", "off")
NONE_WORDS = ("none", "auto")

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class QuickAddError(ValueError):
    """Text that does not describe a layer; the message says why and shows an example."""


@dataclass(frozen=True)
class Parsed:
    """A parsed quick-add text.

    Attributes:
        layer_type: the catalog entry named by the text.
        params: only the parameters the text gave, checked and normalised.
    """

    layer_type: catalog.LayerType
    params: dict


def _fold(text: str) -> str:
    return text.lower().replace(" ", "").replace("_", "").replace("-", "")


def _tokens(text: str) -> list[str]:
    words = []
    for raw in text.split():
        word = raw.strip("()[]{},;")
        if not word:
            continue
        if "=" in word:
            words.append(word)
        else:
            words.extend(part for part in word.split(",") if part)
    return words


def _number(word: str) -> int | float | None:
    if not _NUMBER.match(word):
        return None
    value = float(word)
    if not math.isfinite(value):
        return None
    if re.fullmatch(r"[+-]?\d+", word):
        return int(word)
    return value


def _int_list(word: str) -> list[int] | None:
    """``"28x28x1"`` or ``"28,28,1"`` -> ``[28, 28, 1]``; None when not such a list."""
    parts = [p for p in re.split(r"[x,*]", word.lower()) if p]
    values = [_number(p) for p in parts]
    if len(parts) < 1 or any(not isinstance(v, int) for v in values):
        return None
    return values


def _find_param(layer_type: catalog.LayerType, word: str) -> catalog.Param | None:
    wanted = _fold(word)
    for param in layer_type.params:
        if wanted in (_fold(param.name), _fold(param.display_name)):
            return param
    return None


def _signature(layer_type: catalog.LayerType) -> str:
    """What a type takes, in words: ``units (whole number), activation (relu, ...)``."""
    if not layer_type.params:
        return f"{layer_type.type_id} takes no parameters"
    parts = []
    for param in layer_type.params:
        if param.kind == "choice":
            options = ", ".join(str(c) for c in param.choices[:6])
            more = ", ..." if len(param.choices) > 6 else ""
            parts.append(f"{param.name} ({options}{more})")
        else:
            words = {"int": "whole number", "float": "number", "bool": "yes/no",
                     "shape": "whole numbers", "ints": "whole numbers"}
            parts.append(f"{param.name} ({words.get(param.kind, param.kind)})")
    return f"{layer_type.type_id} takes " + ", ".join(parts)


def _split_type(words: list[str]) -> tuple[catalog.LayerType, list[str]]:
    """The layer type named by the first one to three words, and the words after it.

    Raises:
        QuickAddError: no layer type starts the text.
    """
    for size in (3, 2, 1):
        if len(words) >= size:
            found = catalog.find_type(" ".join(words[:size]))
            if found is not None:
                return found, words[size:]
    folded = {_fold(t.type_id): t.type_id for t in catalog.all_types()}
    close = [folded[f] for f in difflib.get_close_matches(_fold(words[0]), folded, n=3)]
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise QuickAddError(
        f"{words[0][:40]!r} is not a layer type.{hint} Start with a layer type, "
        f"e.g. {EXAMPLES[0]!r} or {EXAMPLES[1]!r}."
    )


def parse(text: Any) -> Parsed:
    """Read quick-add text as a layer type and parameters.

    Raises:
        QuickAddError: the text names no layer type, or a word fits no parameter,
            or a value is out of bounds; the message says which and how to fix it.
    """
    if not isinstance(text, str) or not text.strip():
        raise QuickAddError(
            f"Type a layer, e.g. {EXAMPLES[0]!r}, {EXAMPLES[1]!r} or {EXAMPLES[2]!r}."
        )
    if len(text) > MAX_TEXT:
        raise QuickAddError(
            f"Quick-add text may be at most {MAX_TEXT} characters; this has {len(text)}. "
            f"Type a layer, e.g. {EXAMPLES[1]!r}."
        )
    words = _tokens(text)
    if not words:
        raise QuickAddError(f"Type a layer, e.g. {EXAMPLES[0]!r} or {EXAMPLES[1]!r}.")
    layer_type, rest = _split_type(words)
    given = _fill(layer_type, rest)
    clean, problems = catalog.check_params(layer_type, given)
    messages = [message for name, message in problems if name in given]
    if messages:
        raise QuickAddError(" ".join(messages))
    return Parsed(layer_type, {name: clean[name] for name in given})


def _fill(layer_type: catalog.LayerType, words: list[str]) -> dict:
    given: dict = {}

    def unfilled(kinds: tuple[str, ...]) -> catalog.Param | None:
        for param in layer_type.params:
            if param.kind in kinds and param.name not in given:
                return param
        return None

    def not_understood(word: str) -> QuickAddError:
        return QuickAddError(
            f"{word[:40]!r} is not a value {layer_type.type_id} understands. "
            f"{_signature(layer_type)}; e.g. {describe(layer_type, {})!r}."
        )

    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        lowered = word.lower()
        if "=" in word:
            key, _, value = word.partition("=")
            param = _find_param(layer_type, key)
            if param is None:
                raise QuickAddError(
                    f"{layer_type.type_id} has no parameter {key[:40]!r}. "
                    f"{_signature(layer_type)}."
                )
            given[param.name] = _value(layer_type, param, value)
            continue
        choice = next((p for p in layer_type.params if p.kind == "choice"
                       and p.name not in given and lowered in [str(c).lower() for c in p.choices]),
                      None)
        if choice is not None:
            given[choice.name] = next(c for c in choice.choices if str(c).lower() == lowered)
            continue
        flag = _find_param(layer_type, word)
        if flag is not None and flag.kind == "bool":
            given[flag.name] = True
            continue
        if lowered.startswith("no") and len(lowered) > 3:
            flag = _find_param(layer_type, lowered[2:].lstrip("_-"))
            if flag is not None and flag.kind == "bool":
                given[flag.name] = False
                continue
        if lowered in TRUE_WORDS + FALSE_WORDS:
            param = unfilled(("bool",))
            if param is None:
                raise not_understood(word)
            given[param.name] = lowered in TRUE_WORDS
            continue
        if lowered in NONE_WORDS:
            param = next((p for p in layer_type.params if p.optional and p.name not in given),
                         None)
            if param is None:
                raise not_understood(word)
            given[param.name] = None
            continue
        number = _number(word)
        listed = _int_list(word) if number is None else None
        if number is None and listed is None:
            raise not_understood(word)
        param = unfilled(NUMERIC_KINDS)
        if param is None:
            numeric = [p.name for p in layer_type.params if p.kind in NUMERIC_KINDS]
            takes = (f"takes only {len(numeric)} number(s): {', '.join(numeric)}"
                     if numeric else "takes no numbers")
            raise QuickAddError(
                f"{layer_type.type_id} {takes}; {word[:40]!r} is one too many. "
                f"{_signature(layer_type)}."
            )
        if param.kind in ("shape", "ints"):
            values = listed if listed is not None else [number]
            while listed is None and i < len(words) and isinstance(_number(words[i]), int):
                values.append(_number(words[i]))
                i += 1
            given[param.name] = values
        elif listed is not None:
            raise QuickAddError(
                f"{layer_type.type_id} '{param.name}' takes one number; got {word[:40]!r}."
            )
        else:
            given[param.name] = number
    return given


def _value(layer_type: catalog.LayerType, param: catalog.Param, text: str) -> Any:
    lowered = text.lower()
    if param.optional and lowered in NONE_WORDS:
        return None
    if param.kind == "bool":
        if lowered in TRUE_WORDS or lowered in FALSE_WORDS:
            return lowered in TRUE_WORDS
        raise QuickAddError(
            f"{layer_type.type_id} '{param.name}' must be true or false; got {text[:40]!r}."
        )
    if param.kind == "choice":
        for choice in param.choices:
            if str(choice).lower() == lowered:
                return choice
        options = ", ".join(str(c) for c in param.choices)
        raise QuickAddError(
            f"{layer_type.type_id} '{param.name}' must be one of {options}; got {text[:40]!r}."
        )
    if param.kind in ("shape", "ints"):
        values = _int_list(text)
        if values is None:
            raise QuickAddError(
                f"{layer_type.type_id} '{param.name}' takes whole numbers such as 28,28,1; "
                f"got {text[:40]!r}."
            )
        return values
    number = _number(text)
    if number is None:
        raise QuickAddError(
            f"{layer_type.type_id} '{param.name}' must be a number; got {text[:40]!r}."
        )
    return number


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def describe(layer_type: catalog.LayerType, params: dict) -> str:
    """The quick-add text of a layer's key parameters, e.g. ``Conv2D 32 3 relu``.

    Parsing the result gives back the key parameters (floats to 6 significant digits).
    Parameters missing from ``params`` show their defaults.
    """
    words = [layer_type.type_id]
    positional = True
    params = params if isinstance(params, dict) else {}
    for param in layer_type.params:
        value = params.get(param.name, param.default)
        is_key = param.name in layer_type.key_params
        if param.kind in NUMERIC_KINDS:
            if not is_key:
                positional = False
                continue
            if value is None:
                words.append(f"{param.name}=none")
                positional = False
            elif param.kind in ("shape", "ints") and isinstance(value, (list, tuple)):
                text = " ".join(_format_number(v) for v in value)
                words.append(text if positional else f"{param.name}=" + ",".join(text.split()))
            elif positional:
                words.append(_format_number(value))
            else:
                words.append(f"{param.name}={_format_number(value)}")
        elif not is_key:
            continue
        elif param.kind == "choice":
            shared = [p for p in layer_type.params
                      if p is not param and p.kind == "choice" and value in p.choices]
            words.append(f"{param.name}={value}" if shared else str(value))
        elif param.kind == "bool":
            if value is True:
                words.append(param.name)
            elif param.default is True:
                words.append(f"{param.name}=false")
    return " ".join(words)
