import pytest

from moderation.engine import Engine


@pytest.fixture(scope="session")
def engine():
    """The local backend's own Engine (base model 8, int8, NudeNet on): loaded once for the whole
    run, its converted and quantized models cached in the data folder as in production."""
    from console.backends.local import engine

    return engine()


@pytest.fixture(scope="session")
def engine_v1(settings_dir):
    """Base model 7: NudeNet and open_nsfw in float32, as before v2."""
    return Engine(threads=2, model_dir=settings_dir, version="7")


@pytest.fixture(scope="session")
def engine_float32(settings_dir):
    return Engine(threads=2, model_dir=settings_dir, int8=False)


@pytest.fixture(scope="session")
def settings_dir():
    from django.conf import settings

    return settings.DATA_DIR / "models"
