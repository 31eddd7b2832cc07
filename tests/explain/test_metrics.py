"""Every metric against scikit-learn's, on random and edge-case labels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from builder.explain import metrics
from builder.explain.metrics import MetricError


def labels(seed, n=200, k=4):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.6, true, rng.integers(0, k, n))
    return true, pred


@pytest.mark.parametrize("seed", range(5))
def test_confusion_accuracy_and_class_scores_match_sklearn(seed):
    true, pred = labels(seed)
    np.testing.assert_array_equal(metrics.confusion_matrix(true, pred, 4),
                                  sk.confusion_matrix(true, pred, labels=range(4)))
    assert metrics.accuracy(true, pred) == pytest.approx(sk.accuracy_score(true, pred))
    scores = metrics.class_scores(true, pred, 4)
    p, r, f, s = sk.precision_recall_fscore_support(true, pred, labels=range(4),
                                                    zero_division=0)
    np.testing.assert_allclose(scores.precision, p)
    np.testing.assert_allclose(scores.recall, r)
    np.testing.assert_allclose(scores.f1, f)
    np.testing.assert_array_equal(scores.support, s)
    for kind in ("macro", "weighted"):
        p, r, f, _ = sk.precision_recall_fscore_support(true, pred, labels=range(4),
                                                        average=kind, zero_division=0)
        assert scores.average(kind) == pytest.approx({"precision": p, "recall": r, "f1": f})


def test_a_class_never_predicted_or_absent_scores_zero_like_sklearn():
    true = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 0, 0, 1, 1])  # class 2 never predicted; class 3 absent entirely
    scores = metrics.class_scores(true, pred, 4)
    p, r, f, s = sk.precision_recall_fscore_support(true, pred, labels=range(4),
                                                    zero_division=0)
    np.testing.assert_allclose(scores.precision, p)
    np.testing.assert_allclose(scores.recall, r)
    np.testing.assert_allclose(scores.f1, f)
    assert scores.rows(["a", "b", "c", "d"])[3] == {
        "class": "d", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=2, max_size=60))
def test_threshold_curves_match_sklearn_including_ties(pairs):
    true = np.array([t for t, _ in pairs])
    # Scores on a coarse grid, so that ties are common.
    score = np.array([s for _, s in pairs]) / 20.0
    if true.min() == true.max():
        with pytest.raises(MetricError, match="both classes"):
            metrics.roc_curve(true, score)
        return
    fpr, tpr, thr = metrics.roc_curve(true, score)
    efpr, etpr, ethr = sk.roc_curve(true, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, efpr)
    np.testing.assert_allclose(tpr, etpr)
    np.testing.assert_allclose(thr, ethr)
    assert metrics.roc_auc(true, score) == pytest.approx(sk.roc_auc_score(true, score))
    precision, recall, pthr = metrics.precision_recall_curve(true, score)
    eprecision, erecall, epthr = sk.precision_recall_curve(true, score, drop_intermediate=False)
    np.testing.assert_allclose(precision, eprecision)
    np.testing.assert_allclose(recall, erecall)
    np.testing.assert_allclose(pthr, epthr)
    assert metrics.average_precision(true, score) == pytest.approx(
        sk.average_precision_score(true, score))


def test_curves_take_two_column_probabilities_and_one_hot_labels():
    rng = np.random.default_rng(3)
    true = rng.integers(0, 2, 100)
    p = np.clip(true * 0.3 + rng.random(100) * 0.7, 0, 1)
    probabilities = np.column_stack([1 - p, p])
    one_hot = np.eye(2)[true]
    assert metrics.roc_auc(one_hot, probabilities) == pytest.approx(sk.roc_auc_score(true, p))


@pytest.mark.parametrize("outputs", [1, 3])
def test_regression_scores_match_sklearn(outputs):
    rng = np.random.default_rng(outputs)
    true = rng.normal(size=(80, outputs)) * 5 + 2
    pred = true + rng.normal(size=(80, outputs))
    if outputs == 1:
        true, pred = true[:, 0], pred[:, 0]
    scores = metrics.regression_scores(true, pred)
    assert scores["mae"] == pytest.approx(sk.mean_absolute_error(true, pred))
    assert scores["rmse"] == pytest.approx(sk.root_mean_squared_error(true, pred))
    assert scores["r2"] == pytest.approx(sk.r2_score(true, pred))


def test_r2_of_a_constant_target_follows_sklearn():
    true = np.full(10, 3.0)
    assert metrics.r2_score(true, true) == sk.r2_score(true, true) == 1.0
    assert metrics.r2_score(true, true + 1) == sk.r2_score(true, true + 1) == 0.0


def test_rank_samples_puts_the_most_confidently_wrong_first():
    true = np.array([0, 1, 2, 1])
    probabilities = np.array([
        [0.9, 0.05, 0.05],  # right, confident
        [0.7, 0.2, 0.1],    # wrong, true class got 0.2
        [0.05, 0.9, 0.05],  # wrong, true class got 0.05: most wrong
        [0.4, 0.5, 0.1],    # right, unsure
    ])
    ranked = metrics.rank_samples(true, probabilities, top_k=2)
    assert ranked["index"].tolist() == [2, 1, 3, 0]
    assert ranked["correct"].tolist() == [False, False, True, True]
    assert ranked["top_classes"][0].tolist() == [1, 0]
    by_confidence = metrics.rank_samples(true, probabilities, order="confidence")
    assert by_confidence["index"][:2].tolist() in ([0, 2], [2, 0])
    assert by_confidence["confidence"].tolist() == sorted(by_confidence["confidence"],
                                                         reverse=True)


def test_cell_indices_lists_the_samples_of_one_cell():
    true = np.array([0, 1, 1, 2, 1])
    pred = np.array([0, 2, 1, 2, 2])
    assert metrics.cell_indices(true, pred, 1, 2).tolist() == [1, 4]
    assert metrics.confusion_matrix(true, pred)[1, 2] == 2


def test_to_probabilities_reads_sigmoid_softmax_and_logits():
    sigmoid = np.array([[0.2], [0.9]])
    np.testing.assert_allclose(metrics.to_probabilities(sigmoid, "binary", "sigmoid"),
                               [[0.8, 0.2], [0.1, 0.9]])
    logits = np.array([[0.0], [2.0]])
    np.testing.assert_allclose(metrics.to_probabilities(logits, "binary", "linear")[:, 1],
                               1 / (1 + np.exp(-logits[:, 0])))
    scores = np.array([[1.0, 2.0, 3.0]])
    softmax = metrics.to_probabilities(scores, "multiclass", "auto")
    np.testing.assert_allclose(softmax.sum(axis=1), 1.0)
    assert softmax.argmax() == 2
    already = np.array([[0.1, 0.2, 0.7]])
    np.testing.assert_allclose(metrics.to_probabilities(already, "multiclass", "softmax"), already)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.accuracy([0, 1], [0]), "2 true labels but 1 predictions"),
    (lambda: metrics.accuracy([], []), "no samples"),
    (lambda: metrics.confusion_matrix([0, 0.5], [0, 1]), "whole class ids"),
    (lambda: metrics.confusion_matrix([0, -1], [0, 1]), "cannot be negative"),
    (lambda: metrics.confusion_matrix(["a"], ["b"]), "Map class names to ids"),
    (lambda: metrics.confusion_matrix([0, 5], [0, 1], 3), "only 3 classes"),
    (lambda: metrics.roc_curve([0, 2], [0.1, 0.2]), "two classes"),
    (lambda: metrics.roc_curve([0, 1], [0.1, np.nan]), "not finite"),
    (lambda: metrics.r2_score([1.0, 2.0], [[1.0, 2.0]]), "shape"),
    (lambda: metrics.rank_samples([0, 3], np.ones((2, 2)) / 2), "class 3"),
    (lambda: metrics.class_scores([0], [0]).average("micro"), "macro"),
])
def test_bad_input_is_a_sentence_with_the_fix(call, match):
    with pytest.raises(MetricError, match=match):
        call()
