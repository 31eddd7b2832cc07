"""Text: vocabularies and TextVectorization built from counts, not ``adapt()``.

Tokens are made exactly as Keras's ``TextVectorization`` makes them (lower case,
punctuation stripped, split on whitespace), using the same TensorFlow string ops,
so a vocabulary counted here matches what the layer sees. The layer is then built
with ``vocabulary=`` and travels inside the model: the exported model takes raw
strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from builder.data import PreparedData, SplitArrays
from builder.data.errors import DataError

# The punctuation TextVectorization strips (keras text_vectorization._preprocess).
STRIP_REGEX = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
RESERVED = ("", "[UNK]")
MAX_SEQUENCE_LENGTH = 256
MIN_SEQUENCE_LENGTH = 4
CHUNK = 50_000


def tokens(strings: np.ndarray):
    """The tokens of each string, as a ``tf.RaggedTensor`` of bytes."""
    import tensorflow as tf

    with tf.device("CPU:0"):
        text = tf.constant(np.asarray(strings, dtype=object).astype(str).reshape(-1))
        text = tf.strings.regex_replace(tf.strings.lower(text), STRIP_REGEX, "")
        return tf.strings.split(text)


def vocabulary(strings: np.ndarray, max_tokens: int = 20_000) -> list[str]:
    """The ``max_tokens`` most frequent tokens (ties alphabetical)."""
    if len(strings) == 0:
        return []
    counts: dict[bytes, int] = {}
    for start in range(0, len(strings), CHUNK):
        flat = tokens(strings[start:start + CHUNK]).flat_values.numpy()
        if len(flat) == 0:
            continue
        words, numbers = np.unique(flat, return_counts=True)
        for word, number in zip(words.tolist(), numbers.tolist()):
            counts[word] = counts.get(word, 0) + number
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    vocab = []
    for word, _ in ranked:
        text = word.decode("utf-8", errors="replace")
        if text not in RESERVED:
            vocab.append(text)
        if len(vocab) >= max_tokens:
            break
    return vocab


def choose_sequence_length(strings: np.ndarray) -> int:
    """Tokens per text that cover 95% of the texts, between 4 and 256."""
    lengths = np.concatenate([
        tokens(strings[start:start + CHUNK]).row_lengths().numpy()
        for start in range(0, max(len(strings), 1), CHUNK)
    ]) if len(strings) else np.zeros(1)
    length = int(np.ceil(np.percentile(lengths, 95))) if len(lengths) else MIN_SEQUENCE_LENGTH
    return int(min(MAX_SEQUENCE_LENGTH, max(MIN_SEQUENCE_LENGTH, length)))


def vectorizer(vocab: list[str], output_mode: str = "int", sequence_length: int | None = None,
               name: str | None = None):
    """A ``TextVectorization`` layer with a fixed vocabulary (no adapt)."""
    import keras

    kwargs: dict[str, Any] = dict(vocabulary=list(vocab), output_mode=output_mode, name=name)
    if output_mode == "int":
        kwargs["output_sequence_length"] = int(sequence_length or MAX_SEQUENCE_LENGTH)
    return keras.layers.TextVectorization(**kwargs)


def _apply(layer, strings: np.ndarray, dtype) -> np.ndarray:
    parts = [
        np.asarray(layer(np.asarray(strings[start:start + CHUNK], dtype=object).astype(str)
                         .reshape(-1)))
        for start in range(0, len(strings), CHUNK)
    ]
    return np.concatenate(parts).astype(dtype) if parts else np.zeros((0, 0), dtype)


def multi_hot(strings: np.ndarray, vocab: list[str]) -> np.ndarray:
    """Bag-of-words 0/1 columns (slot 0: unknown words), via the Keras layer itself."""
    layer = vectorizer(vocab, "multi_hot")
    block = _apply(layer, strings, np.float32)
    if block.size == 0:
        return np.zeros((len(strings), len(vocab) + 1), np.float32)
    return block


def prepare_text_column(rows, column: str, encoded, order: np.ndarray, bounds: tuple[int, int],
                        *, source: str, notes: list[str], settings: dict, max_tokens: int,
                        sequence_length: int | None, input_name: str) -> PreparedData:
    """Token-id sequences from one text column, for Embedding/LSTM/Transformer designs.

    Called by ``tabular.prepare_tabular`` once the target is encoded and the rows
    are split; ``order`` lists the rows train first, then validation, then test.
    """
    import keras

    from builder.data.columns import canonical_texts
    from builder.data.targets import finish_targets

    if encoded.task == "reconstruction":
        raise DataError("Reconstruction is for images and numbers, not text.",
                        "Choose a target column to predict.", code="bad_task")
    n_train, n_fit = bounds
    strings = canonical_texts(rows[column])[order].astype(str)
    vocab = vocabulary(strings[:n_train], max_tokens)
    if not vocab:
        raise DataError(f"The text column '{column}' has no words in its training rows.",
                        "Choose a column that holds text.", code="no_words")
    length = int(sequence_length or choose_sequence_length(strings[:n_train]))
    if not 1 <= length <= 4096:
        raise DataError(f"The sequence length must be between 1 and 4096; got {length}.",
                        "Choose a sequence length such as 64.", code="bad_sequence_length")
    layer = vectorizer(vocab, "int", length, name="text_to_tokens")
    x = _apply(layer, strings, np.int32)
    y, postprocessing, info = finish_targets(encoded, order, n_train)
    inputs = keras.Input(shape=(), dtype="string", name=input_name)
    preprocessing = keras.Model(inputs, layer(inputs), name="preprocessing")
    cuts = {"train": slice(0, n_train), "validation": slice(n_train, n_fit),
            "test": slice(n_fit, len(order))}

    def raw_for(part: slice):
        def raw(limit: int | None = None):
            return strings[part][:limit]

        return raw

    def encode(frame):
        if column not in frame.columns:
            raise DataError(f"The rows have no column {column!r}.",
                            f"Give the text in a column named {column!r}.",
                            code="unknown_column")
        return canonical_texts(frame[column]).astype(str)

    covered = float(np.mean(tokens(strings[:min(n_train, 5000)]).row_lengths().numpy() <= length))
    info.update(vocabulary_size=len(vocab) + 2, sequence_length=length, text_column=column,
                vocabulary_preview=vocab[:50], share_not_truncated=round(covered, 3))
    notes = list(notes) + [
        f"'{column}' became sequences of {length} token ids over a vocabulary of "
        f"{len(vocab) + 2:,} (0 = padding, 1 = unknown word)."]
    return PreparedData(
        kind="text", task=encoded.task,
        splits={name: SplitArrays(x=x[part], y=y[part], raw=raw_for(part))
                for name, part in cuts.items()},
        preprocessing_factory=lambda: preprocessing, input_shape=(length,), input_dtype="int32",
        raw_spec={input_name: ((), "string")}, raw_is_dict=False,
        num_classes=len(encoded.class_names) if encoded.class_names else None,
        class_names=list(encoded.class_names), target_names=list(encoded.target_names),
        feature_names=[column], postprocessing=postprocessing, source=source,
        settings=settings, notes=notes, info=info, frame_encoder=encode,
    )


# ---------------------------------------------------------------------------
# The synthetic text sample.

_TOPICS = {
    "sport": ["match", "goal", "team", "coach", "league", "score", "player", "season", "win",
              "stadium", "referee", "penalty", "champion", "training", "striker"],
    "weather": ["rain", "storm", "sunny", "cloud", "wind", "forecast", "snow", "cold", "warm",
                "thunder", "humid", "frost", "breeze", "temperature", "drizzle"],
    "cooking": ["recipe", "oven", "bake", "flour", "sauce", "garlic", "simmer", "butter",
                "spice", "dough", "roast", "pepper", "onion", "taste", "kitchen"],
    "technology": ["software", "laptop", "battery", "update", "screen", "network", "chip",
                   "app", "cloud", "server", "code", "robot", "data", "device", "wireless"],
}
_FILLER = ["the", "a", "today", "really", "very", "this", "new", "we", "it", "was", "is",
           "after", "before", "and", "so", "again", "big", "small", "our", "great"]


def synthetic_topics(n: int = 1200, seed: int = 7):
    """A fixed-seed text classification table: short sentences about four topics.

    Each sentence mixes topic words with filler and, one time in five, a word from
    another topic, so a bag of words does well but not perfectly.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = sorted(_TOPICS)
    texts, labels = [], []
    for i in range(n):
        topic = names[i % len(names)]
        words = list(rng.choice(_TOPICS[topic], size=rng.integers(2, 5)))
        words += list(rng.choice(_FILLER, size=rng.integers(3, 8)))
        if rng.random() < 0.2:
            other = names[(names.index(topic) + rng.integers(1, len(names))) % len(names)]
            words.append(str(rng.choice(_TOPICS[other])))
        rng.shuffle(words)
        sentence = " ".join(str(w) for w in words)
        texts.append(sentence[0].upper() + sentence[1:] + rng.choice([".", "!", "?"]))
        labels.append(topic)
    order = rng.permutation(n)
    return pd.DataFrame({"text": np.asarray(texts)[order], "topic": np.asarray(labels)[order]})
