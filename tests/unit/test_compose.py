"""docker-compose.yml cannot run here (no Docker engine), so check it against the native setup:
same roles and commands as the Procfile, same ports, real settings, files that exist, same
Kafka and PostgreSQL versions."""

import re
from pathlib import Path

import yaml

from eventkit.settings import Settings
from infra.system import procfile
from services.gifting.__main__ import SPEC as GIFTING
from services.payout.__main__ import SPEC as PAYOUT
from services.projections import api as projections_api
from services.projections import worker as projections_worker
from services.recharge.__main__ import SPEC as RECHARGE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_procfile_role_is_a_compose_service_with_the_same_command():
    for role, command in procfile().items():
        assert role in SERVICES, f"{role} missing from docker-compose.yml"
        assert SERVICES[role]["command"] == command


def test_http_ports_match_the_native_defaults():
    for spec in (RECHARGE, GIFTING, PAYOUT):
        assert SERVICES[f"{spec.name}-api"]["ports"] == [f"{spec.default_port}:{spec.default_port}"]
    api, metrics = projections_api.DEFAULT_PORT, projections_worker.METRICS_PORT
    assert SERVICES["projections-api"]["ports"] == [f"{api}:{api}"]
    assert SERVICES["projections"]["ports"] == [f"{metrics}:{metrics}"]


def test_environment_names_real_settings_and_reachable_hosts():
    fields = {name.upper() for name in Settings.model_fields} | {"HOST"}
    for name, service in SERVICES.items():
        if service.get("build"):
            env = service["environment"]
            assert set(env) <= fields, f"{name}: unknown settings {set(env) - fields}"
            assert env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] in SERVICES
            assert re.search(r"@(\w+):", env["DATABASE_URL"]).group(1) in SERVICES
            Settings(**{k.lower(): v for k, v in env.items() if k != "HOST"})


def test_named_files_exist_and_versions_match_native():
    assert (ROOT / "Dockerfile").exists()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY"):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    pom = (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>(.+)</kafka.version>", pom).group(1)
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    assert SERVICES["postgres"]["image"].startswith("postgres:15")
    assert SERVICES["prepare"]["command"] == "python -m infra prepare"
