from datetime import UTC, datetime

from moderation.engine.evaluation import THRESHOLDS, autosplit, evaluate, fn_improvement, fp_improvement
from moderation.engine.taxonomy_map import top_level_confidences

A, E = "Alcohol", "Explicit"
TRUTH = [[A], [A], [A], [], [], [E], [A, E]]
BASE = [{A: 60}, {}, {}, {A: 80}, {A: 55, E: 90}, {E: 30}, {E: 70}]
ADAPTER = [{A: 90}, {A: 70}, {A: 20}, {A: 10}, {A: 52.5}, {E: 60}, {A: 95, E: 50}]


def doc(threshold=50.0):
    return evaluate(
        truth=TRUTH,
        base=BASE,
        adapter=ADAPTER,
        labels=[A, E],
        threshold=threshold,
        adapter_arn="arn:aws:rekognition:us-east-1:1:project/p/version/v/1",
        training_images=30,
        end=datetime(2024, 1, 2, tzinfo=UTC),
    )


def counts(tp, tn, fp, fn):
    return {"TruePositive": tp, "TrueNegative": tn, "FalsePositive": fp, "FalseNegative": fn}


def test_it_counts_per_label_and_micro_averages_at_the_input_threshold():
    result = doc()["ContentModeration"]["InputConfidenceThresholdEvalResults"]
    assert result["ConfidenceThreshold"] == 50.0
    alcohol, explicit = result["LabelEvaluationResults"]
    # Alcohol, base: hits image 0; misses 1, 2, 6; flags safe 3 and 4.
    assert alcohol == {"Label": A, "BaseModel": counts(1, 1, 2, 3), "Adapter": counts(3, 2, 1, 1)}
    # Explicit, base: hits 6; misses 5; flags 4.
    assert explicit == {"Label": E, "BaseModel": counts(1, 4, 1, 1), "Adapter": counts(2, 5, 0, 0)}
    assert result["AggregatedEvaluationResults"] == {
        "BaseModel": counts(2, 5, 3, 4),
        "Adapter": counts(5, 7, 1, 1),
    }


def test_it_writes_the_whole_document():
    d = doc()
    assert d["AggregatedEvaluationResults"]["F1Score"] == round(2 * 5 / (2 * 5 + 1 + 1), 4)
    assert d["EvaluationDetails"] == {
        "EvaluationEndTimestamp": "2024-01-02T00:00:00+00:00",
        "Labels": [A, E],
        "NumberOfTestingImages": 7,
        "NumberOfTrainingImages": 30,
        "ProjectVersionArn": "arn:aws:rekognition:us-east-1:1:project/p/version/v/1",
    }
    rows = d["ContentModeration"]["AllConfidenceThresholdsEvalResults"]
    assert [r["ConfidenceThreshold"] for r in rows] == THRESHOLDS == [5.0 * i for i in range(1, 21)]
    at_100 = rows[-1]["AggregatedEvaluationResults"]
    assert at_100["BaseModel"] == counts(0, 8, 0, 6)
    at_5 = rows[0]["AggregatedEvaluationResults"]["Adapter"]
    assert at_5 == counts(6, 6, 2, 0)  # every prediction counts at 5


def test_improvements_follow_the_spec_formulas():
    d = doc()
    assert fp_improvement(d) == round((3 - 1) / 3 * 100, 2)
    assert fn_improvement(d) == 75.0
    assert fn_improvement(d, label=E) == 100.0
    assert fp_improvement(d, 100.0) is None  # no base false positives at 100


def test_a_child_label_counts_for_its_top_level():
    labels = [
        {"Name": "Drinking", "ParentName": "Alcohol Use", "TaxonomyLevel": 3, "Confidence": 70.0},
        {"Name": "Weapons", "ParentName": "Violence", "TaxonomyLevel": 2, "Confidence": 40.0},
    ]
    assert top_level_confidences(labels) == {"Alcohol": 70.0, "Violence": 40.0}


def test_autosplit_is_deterministic_and_80_20():
    keys = [f"s3://b/img{i}.jpg" for i in range(50)]
    train, test = autosplit(keys)
    assert len(test) == 10 and len(train) == 40 and not set(train) & set(test)
    assert autosplit(keys) == (train, test)
    shuffled = keys[::-1]
    _, test2 = autosplit(shuffled)
    assert {shuffled[i] for i in test2} == {keys[i] for i in test}
    assert autosplit(["a", "b"])[1] and autosplit(["a"]) == ([0], [])
