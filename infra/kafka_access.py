"""Who may do what on the broker: the SCRAM users (one per principal, passwords from the
secrets), the ACLs (from schemas/topics' OWNER and READERS tables) and the TLS listener's
certificates. Provisioning runs as the super user `admin` through confluent-kafka's admin
client (aiokafka has no SCRAM-credential API); every step is idempotent, so `prepare` and the
test fixture simply run it each time.

ACLs are per namespace: the topic names carry `settings.topic_prefix` and the groups
`settings.db_prefix`, so a test namespace gets (and drops) its own set.
"""

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from eventkit import kafka
from eventkit.settings import Settings
from schemas import topics

# The projections worker's faust app id (services/projections/worker.py GROUP_SUFFIX): its
# consumer group, and the prefix of the internal topics faust creates (`<app id>-__assignor-
# __leader`, changelogs).
FAUST_APP_SUFFIX = "projections-v2"


@dataclass(frozen=True, order=True)
class Binding:
    """One ALLOW ACL: `principal` may `operation` the `resource` ("topic"/"group") `name`,
    matched literally or, with `prefixed`, as a name prefix."""

    principal: str
    operation: str  # READ, WRITE, DESCRIBE, CREATE
    resource: str
    name: str
    prefixed: bool = False


def bindings(settings: Settings) -> list[Binding]:
    """Every ACL of `settings`' namespace. READ and WRITE imply DESCRIBE on the broker; it is
    listed anyway so the table says plainly what each principal may see."""
    out: set[Binding] = set()
    for topic, owner in topics.OWNER.items():
        for op in ("WRITE", "DESCRIBE"):
            out.add(Binding(owner, op, "topic", settings.topic(topic)))
    for topic, readers in topics.READERS.items():
        for reader in readers:
            for op in ("READ", "DESCRIBE"):
                out.add(Binding(reader, op, "topic", settings.topic(topic)))
    for service in topics.SERVICE_PRINCIPALS:
        if any(service in readers for readers in topics.READERS.values()):
            out.add(Binding(service, "READ", "group", f"{settings.db_prefix}-{service}"))
    faust_app = f"{settings.db_prefix}-{FAUST_APP_SUFFIX}"
    out.add(Binding("projections", "READ", "group", faust_app))
    for op in ("CREATE", "READ", "WRITE", "DESCRIBE"):
        out.add(Binding("projections", op, "topic", f"{faust_app}-", prefixed=True))
    # Every principal dead-letters what it cannot apply; only operators (admin) read it back.
    for principal in (*topics.SERVICE_PRINCIPALS, *topics.OUTSIDE_PUBLISHERS):
        for op in ("WRITE", "DESCRIBE"):
            out.add(Binding(principal, op, "topic", settings.topic(topics.DEAD_LETTER)))
    return sorted(out)


def _acl(binding: Binding, filter_: bool = False):
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    cls = AclBindingFilter if filter_ else AclBinding
    return cls(
        ResourceType[binding.resource.upper()],
        binding.name,
        ResourcePatternType.PREFIXED if binding.prefixed else ResourcePatternType.LITERAL,
        f"User:{binding.principal}",
        "*",
        AclOperation[binding.operation],
        AclPermissionType.ALLOW,
    )


def _admin(settings: Settings):
    from confluent_kafka.admin import AdminClient

    return AdminClient(kafka.confluent_config(settings, kafka.ADMIN))


def _run(settings: Settings, method: str, arg: list, what: str, timeout: float = 30) -> None:
    """Runs one admin request and waits for each of its futures (the client is kept until
    then: a collected client destroys its handle mid-request)."""
    client = _admin(settings)
    futures = getattr(client, method)(arg)
    for key, future in futures.items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:
            raise RuntimeError(f"kafka: {what} failed for {key}: {exc}") from exc


def ensure_users(settings: Settings) -> None:
    """A SCRAM-SHA-512 credential for every principal, from its secret (upserted each time:
    the broker then holds exactly the passwords the secrets say)."""
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upserts = [
        UserScramCredentialUpsertion(p, info, kafka.password(settings, p).encode())
        for p in kafka.PRINCIPALS
    ]
    _run(settings, "alter_user_scram_credentials", upserts, "creating SCRAM users")


def apply_acls(settings: Settings) -> None:
    """Creates the namespace's ACLs (creating one that exists is a no-op on the broker)."""
    acls = [_acl(b) for b in bindings(settings)]
    _run(settings, "create_acls", acls, "creating ACLs")


def delete_acls(settings: Settings) -> None:
    filters = [_acl(b, filter_=True) for b in bindings(settings)]
    _run(settings, "delete_acls", filters, "deleting ACLs")


def provision(settings: Settings) -> None:
    """Users, then this namespace's ACLs."""
    ensure_users(settings)
    apply_acls(settings)


# --- TLS: a development CA and the broker's certificate, generated once ----------------------

CA_FILE = "kafka_ca.pem"  # clients' KAFKA_SSL_CAFILE
BROKER_CERT = "kafka_broker.pem"
BROKER_KEY = "kafka_broker_key.pem"
# The name clients on other machines reach the TLS listener by (COINSTREAM_KAFKA_TLS_HOST; the
# certificate names it, with 127.0.0.1 and localhost). The broker binds that listener to it.
TLS_HOST = os.environ.get("COINSTREAM_KAFKA_TLS_HOST", "127.0.0.1")


def ensure_tls(
    secrets_dir: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", TLS_HOST)
) -> bool:
    """Writes a CA and a broker certificate it signed (valid for `hosts`) unless present;
    True when they were made now. The CA's private key is not kept: a new broker certificate
    means a new CA, which is fine for a development cache."""
    if all((secrets_dir / f).exists() for f in (CA_FILE, BROKER_CERT, BROKER_KEY)):
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("coinstream development CA"))
        .issuer_name(name("coinstream development CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("coinstream kafka broker"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write(secrets_dir / CA_FILE, ca.public_bytes(pem))
    _write(secrets_dir / BROKER_CERT, cert.public_bytes(pem) + ca.public_bytes(pem))
    _write(
        secrets_dir / BROKER_KEY,
        key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),  # PKCS#8: the PEM form Kafka's keystore reads
    )
    return True


def _write(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(data)
