"""moderation.suggestions: the suggested top-level labels and the suggestion's confidence from a
DetectModerationLabels answer (pure: no database)."""

from moderation.suggestions import suggest


def test_it_suggests_the_top_level_labels_at_50_or_above_from_any_level():
    found = suggest(
        [
            {"Name": "Drinking", "ParentName": "Alcohol", "Confidence": 91.0},
            {"Name": "Alcohol", "ParentName": "", "Confidence": 88.0},
            {"Name": "Weapons", "ParentName": "Violence", "Confidence": 20.0},
        ]
    )
    assert found.labels == ["Alcohol"]
    assert found.scores == {"Alcohol": 91.0, "Violence": 20.0}
    assert found.confidence == 80.0  # Violence at 20: sure "no" at 80, the least sure answer


def test_it_suggests_safe_when_no_label_reaches_50_and_is_least_sure_near_50():
    assert suggest([]).labels == [] and suggest([]).confidence == 100.0
    unsure = suggest([{"Name": "Alcohol", "Confidence": 52.0}, {"Name": "Gambling", "Confidence": 3.0}])
    assert unsure.labels == ["Alcohol"] and unsure.confidence == 52.0


def test_it_ignores_labels_this_console_does_not_know():
    assert suggest([{"Name": "Some Future Label", "Confidence": 99.0}]).labels == []
