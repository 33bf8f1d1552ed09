"""The system under load, started on its own database/topic prefix (infra.namespace, with the
Procfile's processes supervised by infra.system) so a benchmark never touches the default
`coinstream_*` databases of a running `make run`."""

import uuid

from eventkit.settings import Settings
from infra.namespace import drop_namespace as drop  # noqa: F401 - the bench's vocabulary
from infra.namespace import prepare_namespace as prepare  # noqa: F401
from infra.namespace import server_url  # noqa: F401
from infra.system import LOGS, ROOT, System, child_env, free_port  # noqa: F401


def bench_settings(prefix: str | None = None) -> Settings:
    """Settings from the environment, but on a private prefix (`bench<random>`)."""
    prefix = prefix or f"bench{uuid.uuid4().hex[:8]}"
    return Settings(db_prefix=prefix, topic_prefix=f"{prefix}.")
