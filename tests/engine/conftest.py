import pytest

from moderation.engine import Engine


@pytest.fixture(scope="session")
def engine():
    return Engine(threads=2)
