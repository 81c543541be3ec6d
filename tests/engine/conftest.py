import pytest

from console.engine import Engine


@pytest.fixture(scope="session")
def engine():
    return Engine(threads=2)
