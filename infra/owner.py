"""Which clone a native server belongs to, so that a clone whose port is taken can say who holds
it and how to stop it.

Each server's home (`<cache>/postgres` or the cluster's home outside the clone, `<cache>/kafka`)
holds `owner.json`: the clone and the cache dir that started it. The holder of a port is found
from /proc (its command line names its home), which root can read for every process.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from infra.paths import CACHE, ROOT
from infra.proc import cmdline, listener

MARK = "owner.json"


@dataclass(frozen=True)
class Owner:
    clone: Path
    cache: Path

    def stop_command(self) -> str:
        """`make down` in the owning clone, naming its cache dir when it is not the default."""
        env = "" if self.cache == self.clone / ".cache" else f"COINSTREAM_CACHE={self.cache} "
        return f"cd {self.clone} && {env}make down"


def mark(home: Path) -> None:
    (home / MARK).write_text(json.dumps({"clone": str(ROOT), "cache": str(CACHE)}))


def owner_of(home: Path) -> Owner | None:
    try:
        found = json.loads((home / MARK).read_text())
        return Owner(Path(found["clone"]), Path(found["cache"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    # An unmarked home inside a clone's own cache (`<clone>/.cache/<server>`) is that clone's.
    if home.parent.name == ".cache" and (home.parent.parent / "Makefile").exists():
        return Owner(home.parent.parent, home.parent)
    return None


def home_in(command: list[str]) -> Path | None:
    """The server home named by a command line: `postgres -D <home>/data` (PostgreSQL) or
    `-Dkafka.logs.dir=<home>` (the Kafka broker)."""
    for i, arg in enumerate(command):
        if arg == "-D" and i + 1 < len(command):
            return Path(command[i + 1]).parent
        if arg.startswith("-Dkafka.logs.dir="):
            return Path(arg.split("=", 1)[1])
    return None


def port_taken(server: str, port: int, other_ports: str) -> str:
    """What to tell the user when `server`'s port is taken: whose it is, how to stop it."""
    pid = listener(port)
    if pid is None:
        return (
            f"{server}: port {port} is taken by another process (not one this user can "
            f"see); stop it, or set {other_ports}"
        )
    command = cmdline(pid)
    home = home_in(command)
    owner = owner_of(home) if home else None
    if owner is None:
        shown = " ".join(command)[:200] or "?"
        return (
            f"{server}: port {port} is taken by pid {pid} ({shown}); stop it, or set {other_ports}"
        )
    return (
        f"{server}: port {port} is taken by the {server} of the clone {owner.clone} "
        f"(pid {pid}, data in {home}).\n"
        f"  Stop it there:  {owner.stop_command()}\n"
        f"  or run this clone on other ports: set {other_ports}"
    )
