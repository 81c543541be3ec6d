"""The pure label-error finder (moderation/engine/label_quality.py) on a proxy with planted errors."""

import numpy as np

from moderation.engine import label_quality
from moderation.engine.heads import FEATURE_SET_V2
from moderation.engine.networks import EMBEDDING_DIM

N = 400  # 200 images of the concept, 200 safe ones


def proxy(flip_every: int = 10, seed: int = 1):
    """Two well-separated gaussian clusters at the engine's embedding width: "Alcohol" and safe.
    Every tenth Alcohol image (10 % of the concept's labels) is labeled safe instead."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 1, EMBEDDING_DIM)
    half = N // 2
    embeddings = np.vstack(
        [
            rng.normal(0, 1, (half, EMBEDDING_DIM)) + 0.25 * centre,
            rng.normal(0, 1, (half, EMBEDDING_DIM)) - 0.25 * centre,
        ]
    ).astype(np.float32)
    flipped = set(range(0, half, flip_every))
    truth = [[] if i in flipped or i >= half else ["Alcohol"] for i in range(N)]
    return embeddings, truth, flipped


def test_it_puts_most_planted_errors_at_the_top_of_the_list():
    embeddings, truth, flipped = proxy()
    suspects = label_quality.find_label_errors(embeddings, [[]] * N, truth, feature_set=FEATURE_SET_V2)
    top = suspects[: len(flipped)]
    found = {s.index for s in top} & flipped
    # At least 70 % of the 20 flipped labels among the top 20: the clusters are separable, so each
    # flipped image is an error a head trained without it should see; 70 % leaves room for a fold
    # whose head is less sure without failing on noise, and still fails a finder that ranks at random
    # (20 of 400 images: about 1 expected in the top 20).
    assert len(found) >= 0.7 * len(flipped), (sorted(found), [(s.index, round(s.score, 3)) for s in top])
    for s in top:  # each says what the label is and what the model expects
        if s.index in flipped:
            assert (s.label, s.given) == ("Alcohol", False) and s.probability > 0.5
    scores = [s.score for s in suspects]
    assert scores == sorted(scores, reverse=True)


def test_it_scores_each_image_with_a_head_that_never_saw_it():
    embeddings, truth, flipped = proxy()
    probabilities = label_quality.out_of_sample_probabilities(
        embeddings, [[]] * N, truth, labels=["Alcohol"], feature_set=FEATURE_SET_V2
    )
    assert probabilities.shape == (N, 1)
    # A head fitted on these images would follow their (flipped) labels; out of sample it sides with the cluster.
    assert np.mean([probabilities[i, 0] > 0.5 for i in flipped]) >= 0.9


def test_it_checks_no_label_with_too_few_images():
    embeddings, _, _ = proxy()
    truth = [["Alcohol"] if i < 3 else [] for i in range(N)]
    assert label_quality.checkable_labels(truth) == []
    assert label_quality.find_label_errors(embeddings, [[]] * N, truth, feature_set=FEATURE_SET_V2) == []
