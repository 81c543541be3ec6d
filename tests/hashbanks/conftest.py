"""Hash bank test helpers: bundled photos and their transformations."""

import io

import pytest
from PIL import Image

from hashbanks import services
from tests.engine.imagegen import photo

# Real photos from scikit-image's wheel, unlike one another.
PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "camera.png", "horse.png", "motorcycle_left.png"]


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def bundled(name: str) -> Image.Image:
    return photo("skimage.data", name)


def half(img: Image.Image) -> Image.Image:
    return img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)


def border_crop(img: Image.Image, fraction: float = 0.05) -> Image.Image:
    dx, dy = round(img.width * fraction), round(img.height * fraction)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


@pytest.fixture
def label_bank(owner):
    return services.create_bank(user=owner, name="known-hate", kind="label", label="Nazi Party")


@pytest.fixture
def allow_bank(owner):
    return services.create_bank(user=owner, name="known-safe", kind="allow")
