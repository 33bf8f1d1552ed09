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
