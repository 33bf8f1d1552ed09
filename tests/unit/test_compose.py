"""docker-compose.yml cannot run here (no Docker engine), so check it against the native setup:
same roles and commands as the Procfile, same ports, real settings, files that exist, same
Kafka and PostgreSQL versions."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic_settings import BaseSettings

from eventkit.kafka import PRINCIPALS
from eventkit.roles import login_secrets
from eventkit.secrets import needed
from eventkit.settings import Settings
from infra.system import procfile
from services.payout.settings import PayoutSettings
from services.recharge.settings import RechargeSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OWN_SETTINGS = {"recharge": RechargeSettings, "payout": PayoutSettings}  # by role prefix


def env_fields(cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field name of a settings class."""
    return {
        str(field.validation_alias or name).upper(): name
        for name, field in cls.model_fields.items()
    }


def settings_classes(role: str) -> list[type[BaseSettings]]:
    """The settings a compose service reads: the shared ones plus its own service's."""
    own = OWN_SETTINGS.get(role.split("-")[0])
    return [Settings, own] if own else [Settings]


def test_every_procfile_role_is_a_compose_service_with_the_same_command():
    for role, command in procfile().items():
        assert role in SERVICES, f"{role} missing from docker-compose.yml"
        assert SERVICES[role]["command"] == command


def default(field: str) -> int:
    return Settings.model_fields[field].default


def test_http_ports_match_the_native_defaults():
    for name in ("recharge", "gifting", "payout", "projections"):
        port = default(f"{name}_port")
        role = f"{name}-api"
        assert SERVICES[role]["ports"] == [f"{port}:{port}"]
    metrics = default("projections_metrics_port")
    assert SERVICES["projections"]["ports"] == [f"{metrics}:{metrics}"]


def secret_names(env: dict[str, str]) -> set[str]:
    """The variables of `env` that are secrets by name (eventkit.secrets), not settings."""
    return {k for k in env if k.endswith(("_PASSWORD", "_SIGNING_KEY"))}


def test_environment_names_real_settings_and_reachable_hosts():
    for name, service in SERVICES.items():
        if service.get("build"):
            env, classes = service["environment"], settings_classes(name)
            known = set().union(*map(env_fields, classes))
            settings = set(env) - secret_names(env)
            assert settings <= known, f"{name}: unknown settings {settings - known}"
            assert env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] in SERVICES
            assert urlsplit(env["DATABASE_URL"]).hostname in SERVICES
            for key, value in env.items():
                if "://" in value and not value.startswith("file://"):
                    assert urlsplit(value).hostname in SERVICES, f"{name}: {key} is unreachable"
            for cls in classes:
                fields = env_fields(cls)
                cls(_env_file=None, **{fields[k]: v for k, v in env.items() if k in fields})


def test_each_process_gets_exactly_the_secrets_it_needs():
    """Least privilege: a container holds the secrets its role reads (eventkit.secrets.needed)
    and no other service's; only the prepare job holds every login and Kafka password."""
    for role, command in procfile().items():
        service, process = command.split()[-2].split(".")[-1], command.split()[-1]
        env = SERVICES[role]["environment"]
        wanted = {name.upper() for name in needed(service, process)}
        assert secret_names(env) == wanted, role
        assert all(v.startswith("${") for k, v in env.items() if k in wanted), role
    prepare = secret_names(SERVICES["prepare"]["environment"])
    logins = {
        n.upper()
        for s in ("recharge", "gifting", "payout", "projections")
        for n in login_secrets(s).values()
    }
    assert logins | {f"{p.upper()}_KAFKA_PASSWORD" for p in PRINCIPALS} == prepare
    assert "COINSTREAM_ENV" in SERVICES["prepare"]["environment"]


def test_payout_worker_posts_callbacks_to_the_payout_api(monkeypatch):
    """The worker's container is not the API's: the native default (this host) would never
    reach it, so compose must name the API's service, port and callback route."""
    monkeypatch.delenv("PAYOUT_CALLBACK_URL", raising=False)

    def callback_url():
        return PayoutSettings(_env_file=None).sandbox_callback_url()

    native = urlsplit(callback_url())
    for key, value in SERVICES["payout-worker"]["environment"].items():
        monkeypatch.setenv(key, value)
    url = urlsplit(callback_url())
    assert (url.hostname, url.port, url.path) == ("payout-api", default("payout_port"), native.path)


def test_named_files_exist_and_versions_match_native():
    assert (ROOT / "Dockerfile").exists()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY") and "--from=" not in line:  # (a build stage's own files)
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>(.+)</kafka.version>", pom).group(1)
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    assert SERVICES["postgres"]["image"].startswith("postgres:15")
    assert SERVICES["prepare"]["command"] == "python -m infra prepare"


# --- metrics: Prometheus scrapes every process, Grafana shows what they export --------------

PROMETHEUS = yaml.safe_load((ROOT / "infra" / "prometheus.yml").read_text())
DASHBOARD_DIR = ROOT / "infra" / "grafana" / "dashboards"


def test_prometheus_scrapes_every_procfile_process_at_its_metrics_port():
    settings = Settings(_env_file=None)
    scraped = {
        job["job_name"]: target
        for job in PROMETHEUS["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    expected = {}
    for role, command in procfile().items():
        _, _, module, process = command.split()[:4]
        service = module.split(".")[1]
        expected[role] = f"{role}:{settings.metrics_port_for(service, process)}"
    assert scraped == expected
    for role in expected:
        assert role in SERVICES and "build" in SERVICES[role], role


def test_grafana_is_provisioned_from_the_checked_in_files():
    grafana, prometheus = SERVICES["grafana"], SERVICES["prometheus"]
    assert grafana["image"].startswith("grafana/grafana") and prometheus["image"].startswith(
        "prom/prometheus"
    )
    for service in (grafana, prometheus):
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert (ROOT / source).exists(), source
    assert grafana["environment"]["GF_AUTH_DISABLE_LOGIN_FORM"] == "true"
    assert all(p.startswith("127.0.0.1:") for s in (grafana, prometheus) for p in s["ports"])


def test_the_dashboard_queries_only_families_the_processes_export():
    import json

    from eventkit import metrics

    exported = {
        family.name
        for family in metrics.HTTP_REQUESTS.collect()
        + metrics.HTTP_DURATION.collect()
        + metrics.REFUSALS.collect()
        + metrics.IDEMPOTENT_REPLAYS.collect()
        + metrics.OUTBOX_DEPTH.collect()
        + metrics.OUTBOX_OLDEST_AGE.collect()
        + metrics.RELAY_PUBLISH_SECONDS.collect()
        + metrics.CONSUMER_LAG.collect()
        + metrics.CONSUMER_PROCESSED.collect()
        + metrics.CONSUMER_DEAD_LETTERED.collect()
    } | {"coinstream_projections_consumer_lag", "coinstream_projections_last_event_age_seconds"}
    queried = set()
    for path in DASHBOARD_DIR.glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                queried |= set(re.findall(r"coinstream_[a-z_]+", target["expr"]))
    suffixes = ("_total", "_bucket", "_count", "_sum")
    bare = {next((q[: -len(s)] for s in suffixes if q.endswith(s)), q) for q in queried}
    assert bare and bare <= exported, bare - exported


# --- docker-compose.cluster.yml: `make cluster`'s shape as an override ----------------------


class ComposeLoader(yaml.SafeLoader):
    """Reads compose's `!reset` (an override dropping the base file's value)."""


RESET = object()
ComposeLoader.add_constructor("!reset", lambda loader, node: RESET)
CLUSTER = yaml.load((ROOT / "docker-compose.cluster.yml").read_text(), ComposeLoader)
OVERRIDE = CLUSTER["services"]
NODES = ("kafka", "kafka-2", "kafka-3")


def merged(name: str) -> dict:
    """A service as compose merges it: maps key by key, a `!reset` drops the base's value."""
    service = {**SERVICES.get(name, {})}
    for key, value in OVERRIDE.get(name, {}).items():
        if value is RESET:
            service.pop(key, None)
        elif isinstance(value, dict) and isinstance(service.get(key), dict):
            service[key] = {**service[key], **value}
        else:
            service[key] = value
    return service


def test_cluster_runs_three_kafka_nodes_from_make_envs_configurations(tmp_path):
    from scripts import make_env

    make_env.generate_all(tmp_path)
    make_env.compose_files(tmp_path)
    ids = set()
    for n, name in enumerate(NODES, start=1):
        node = merged(name)
        assert node["image"] == SERVICES["kafka"]["image"]
        mount = f"./.cache/compose/kafka-cluster/node{n}:/etc/coinstream:ro"
        assert mount in node["volumes"]
        assert "cluster-id" in " ".join(node["command"])  # one id for the three, not random
        assert any(v.endswith(":/var/lib/kafka/data") for v in node["volumes"])
        config = (tmp_path / "kafka-cluster" / f"node{n}" / "server.properties").read_text()
        last = {}  # java.util.Properties: the last value of a key wins
        for line in config.splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                last[key] = value
        assert last["node.id"] == str(n)
        assert last["controller.quorum.voters"] == ",".join(
            f"{i}@{host}:9093" for i, host in enumerate(NODES, start=1)
        )
        assert f"CLIENT://{name}:9092" in last["advertised.listeners"]
        assert (last["default.replication.factor"], last["min.insync.replicas"]) == ("3", "2")
        assert last["unclean.leader.election.enable"] == "false"
        ids.add((tmp_path / "kafka-cluster" / f"node{n}" / "cluster-id").read_text())
    assert len(ids) == 1
    volumes = [v.split(":")[0] for n in NODES for v in merged(n)["volumes"] if v[0] != "."]
    assert len(set(volumes)) == 3 and set(volumes) <= set(CLUSTER["volumes"]) | set(
        COMPOSE["volumes"]
    )


def test_cluster_runs_two_replicas_of_every_role_on_the_three_brokers():
    for role in procfile():
        service = merged(role)
        assert service["deploy"]["replicas"] == 2, role
        assert "ports" not in service, f"{role}: two replicas cannot share a host port"
        env = service["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == ",".join(f"{n}:9092" for n in NODES), role
        for cls in settings_classes(role):  # still real settings
            fields = env_fields(cls)
            cls(_env_file=None, **{fields[k]: v for k, v in env.items() if k in fields})
    prepare = merged("prepare")
    assert prepare["environment"]["KAFKA_REPLICATION_FACTOR"] == "3"
    assert set(NODES) <= set(prepare["depends_on"])


def test_cluster_balances_each_api_on_its_port_and_checks_postgres_through_readyz():
    from infra.cluster import POSTGRES_OK

    haproxy = merged("haproxy")
    source = haproxy["volumes"][0].split(":")[0]
    config = (ROOT / source).read_text()
    published = []
    for name in ("recharge", "gifting", "payout", "projections"):
        port = default(f"{name}_port")
        published.append(f"{port}:{port}")
        assert f"frontend {name}\n    bind :{port}\n" in config
        assert f"server-template {name}- 2 {name}-api:{port}\n" in config
    assert haproxy["ports"] == published
    assert config.count("option httpchk GET /readyz") == 4
    assert config.count(f"http-check expect string '{POSTGRES_OK}'") == 4
    assert "resolvers docker" in config  # replicas found again as they come and go


def test_cluster_read_api_reads_a_streaming_standby():
    standby = merged("postgres-standby")
    assert standby["image"] == SERVICES["postgres"]["image"]
    command = " ".join(standby["command"])
    assert "pg_basebackup -h postgres" in command and " -R " in command
    assert "hot_standby=on" in command
    read_api = merged("projections-api")["environment"]
    assert urlsplit(read_api["DATABASE_URL"]).hostname == "postgres-standby"
    hba = [v for v in merged("postgres")["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert hba and (ROOT / hba[0].split(":")[0]).exists()
    assert "host replication" in (ROOT / hba[0].split(":")[0]).read_text()
    callback = urlsplit(merged("payout-worker")["environment"]["PAYOUT_CALLBACK_URL"])
    assert (callback.hostname, callback.port) == ("haproxy", default("payout_port"))
