"""PDQ hashes of bundled photos, the exact radius index, and robustness of a bank's matches."""

import numpy as np
import pytest

from hashbanks import pdq, services
from hashbanks.index import HashIndex, groups
from hashbanks.models import DEFAULT_DISTANCE
from tests.hashbanks.conftest import PHOTOS, border_crop, bundled, half, jpeg, png


def test_it_hashes_a_photo_as_64_hex_digits_with_its_quality(settings):
    found = pdq.of_bytes(png(bundled("astronaut.png")))
    assert len(found.hex) == 64 and int(found.hex, 16)
    assert found.quality >= settings.HASHBANKS_MIN_QUALITY
    assert pdq.of_bytes(png(bundled("astronaut.png"))) == found  # deterministic


def test_a_flat_image_has_a_low_quality_and_garbage_is_not_an_image(settings):
    from PIL import Image

    assert (
        pdq.of_bytes(png(Image.new("RGB", (200, 200), (120, 120, 120)))).quality
        < settings.HASHBANKS_MIN_QUALITY
    )
    with pytest.raises(pdq.NotAnImage):
        pdq.of_bytes(b"not an image at all")


def test_it_parses_and_refuses_hash_text():
    value = "f" * 64
    assert pdq.parse_hex(" " + value.upper() + "\n") == value
    with pytest.raises(ValueError, match="64 hex digits, not 63"):
        pdq.parse_hex("f" * 63)
    with pytest.raises(ValueError, match="only the hex digits"):
        pdq.parse_hex("g" * 64)
    assert pdq.distance("0" * 64, "0" * 63 + "7") == 3


def test_a_big_image_is_hashed_as_the_same_image_made_smaller():
    img = bundled("coffee.png")
    big = img.resize((img.width * 4, img.height * 4))
    assert pdq.distance(pdq.of_bytes(jpeg(big, 95)).hex, pdq.of_bytes(png(img)).hex) <= 16


def brute_force(hashes: np.ndarray, query: np.ndarray, radius: int) -> list[tuple[int, int]]:
    dist = np.unpackbits(hashes ^ query, axis=1).sum(axis=1)
    return sorted((int(d), int(i)) for i, d in enumerate(dist) if d <= radius)


@pytest.mark.parametrize("radius", [0, 15, 31, 40])
def test_the_index_finds_exactly_what_a_scan_finds(radius):
    rng = np.random.default_rng(radius)
    hashes = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    queries = hashes[rng.choice(len(hashes), 40)].copy()
    for row in queries:  # move each query 0..45 bits away from a hash of the index
        for bit in rng.choice(256, size=int(rng.integers(0, 46)), replace=False):
            row[bit // 8] ^= 1 << (7 - bit % 8)
    index = HashIndex(hashes)
    for query in queries:
        found = [(d, p) for p, d in index.within(query, radius)]
        assert found == brute_force(hashes, query, radius)


def test_the_index_of_nothing_finds_nothing():
    assert HashIndex(pdq.to_array([])).within(np.zeros(32, dtype=np.uint8), 31) == []


def test_groups_link_chains_of_near_hashes():
    base = np.zeros((5, 32), dtype=np.uint8)
    base[1, 0] = 0b1111  # 4 bits from 0
    base[2, 0], base[2, 1] = 0b1111, 0b1111  # 4 bits from 1, 8 from 0
    base[3] = 0xFF  # far from all
    base[4] = 0xFF
    base[4, 0] = 0xFE  # 1 bit from 3
    assert groups(base, 5).tolist() == [0, 0, 0, 3, 3]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PHOTOS)
def test_a_banked_photo_still_matches_resized_reencoded_and_cropped(owner, label_bank, name):
    original = bundled(name)
    services.add_image(user=owner, bank=label_bank, data=png(original), source=name)
    variants = {
        "half size": jpeg(half(original), 90),
        "JPEG quality 60": jpeg(original, 60),
        "5 % border crop": jpeg(border_crop(original, 0.05), 90),
    }
    for what, data in variants.items():
        matches = services.lookup(hash_hex=pdq.of_bytes(data).hex)
        assert [m.bank for m in matches] == ["known-hate"], (name, what)
        assert matches[0].distance <= DEFAULT_DISTANCE, (name, what, matches[0].distance)


@pytest.mark.django_db
@pytest.mark.parametrize("name", PHOTOS)
def test_a_different_photo_does_not_match(owner, label_bank, name):
    services.add_image(user=owner, bank=label_bank, data=png(bundled(name)), source=name)
    for other in PHOTOS:
        if other != name:
            assert services.lookup(hash_hex=pdq.of_bytes(jpeg(bundled(other), 60)).hex) == [], (name, other)


@pytest.mark.django_db
def test_each_image_is_hashed_once_by_its_content():
    from hashbanks.models import ImageHash

    data = png(bundled("camera.png"))
    first = services.image_hash(data=data)
    assert services.image_hash(data=data).pk == first.pk
    assert ImageHash.objects.count() == 1
