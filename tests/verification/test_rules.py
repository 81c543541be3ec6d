"""The ground-truth rule on every combination of verdicts, and the outcome of each label."""

import itertools

from verification.rules import ground_truth, image_outcomes, outcome

LABELS = ["Alcohol", "Violence", "Gambling"]
VERDICTS = [None, "correct", "incorrect", "added"]


def expected_for(is_predicted, verdict):
    if verdict == "incorrect":
        return False
    if verdict in ("correct", "added"):
        return True
    return is_predicted


def test_the_rule_holds_for_every_combination_of_predictions_and_verdicts():
    combos = 0
    for predicted_flags in itertools.product([False, True], repeat=len(LABELS)):
        for verdict_choice in itertools.product(VERDICTS, repeat=len(LABELS)):
            predicted = [name for name, p in zip(LABELS, predicted_flags, strict=True) if p]
            verdicts = {name: v for name, v in zip(LABELS, verdict_choice, strict=True) if v}
            truth = ground_truth(predicted, verdicts)
            expected = [
                name
                for name, p, v in zip(LABELS, predicted_flags, verdict_choice, strict=True)
                if expected_for(p, v)
            ]
            # taxonomy order: Violence, Alcohol, Gambling
            assert sorted(truth) == sorted(expected), (predicted, verdicts)
            combos += 1
    assert combos == 2**3 * 4**3


def test_an_image_left_with_no_label_is_safe():
    assert ground_truth(["Alcohol"], {"Alcohol": "incorrect"}) == []
    assert ground_truth([], {}) == []


def test_outcomes_name_each_kind_of_prediction():
    assert [outcome(p, t) for p, t in [(True, True), (True, False), (False, True), (False, False)]] == [
        "tp",
        "fp",
        "fn",
        "tn",
    ]
    tops = {"Alcohol": 80.0, "Violence": 30.0}
    assert image_outcomes(tops, {"Alcohol": "incorrect", "Gambling": "added"}, 50) == [
        ("Alcohol", "fp"),
        ("Gambling", "fn"),
    ]
    assert image_outcomes(tops, {}, 90) == [("", "tn")]
    # Confirmed correct at 50, read at 90: the label is true but no longer predicted.
    assert image_outcomes(tops, {"Alcohol": "correct"}, 90) == [("Alcohol", "fn")]
