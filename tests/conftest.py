"""Session fixtures: real Kafka and PostgreSQL (see support/infrastructure.py), isolated by a
database-name prefix and a topic prefix per namespace, so a running `make run` is untouched."""

import uuid

import pytest

import infra.secrets
from eventkit.settings import Settings
from infra.namespace import drop_namespace, prepare_namespace
from infra.system import System
from tests.support.infrastructure import acquire


@pytest.fixture(scope="session")
def endpoints():
    infra.secrets.ensure(Settings())  # the development secrets and keys every process reads
    found, containers = acquire()
    yield found
    for container in containers:
        container.stop()


@pytest.fixture(scope="session")
def namespace(endpoints):
    """Makes Settings for a fresh namespace (databases + topics), dropped at session end."""
    made: list[Settings] = []
    run = uuid.uuid4().hex[:8]

    async def make(tag: str = "") -> Settings:
        prefix = f"t{run}{tag}"
        settings = Settings(
            kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
            database_url=endpoints.database_url,
            db_prefix=prefix,
            topic_prefix=f"{prefix}.",
        )
        await prepare_namespace(settings)
        made.append(settings)
        return settings

    yield make
    import asyncio

    for settings in made:
        asyncio.run(drop_namespace(settings))


@pytest.fixture(scope="session")
async def prepared(namespace) -> Settings:
    """The namespace shared by integration tests (in-process components)."""
    return await namespace()


@pytest.fixture(scope="session")
async def pools(prepared):
    from eventkit.db import create_pool
    from infra.__main__ import SERVICES

    made = {s: await create_pool(prepared.database_for(s), max_size=40) for s in SERVICES}
    yield made
    for pool in made.values():
        await pool.close()


@pytest.fixture(scope="session")
async def system(namespace):
    """The Procfile's processes on a namespace of their own (their relays hold leader locks),
    started once per session for whichever tests ask first (e2e, fuzz). It lives here, not in
    a package's conftest: a fixture imported into a second conftest is a second definition,
    and would start a second system."""
    sut = System(await namespace("e"))
    sut.start_all()
    yield sut
    sut.stop_all()
