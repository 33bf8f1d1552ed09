import pytest

from infra.system import System


@pytest.fixture(scope="session")
async def system(namespace):
    """The Procfile's processes on a namespace of their own (their relays hold leader locks)."""
    sut = System(await namespace("e"))
    sut.start_all()
    yield sut
    sut.stop_all()
