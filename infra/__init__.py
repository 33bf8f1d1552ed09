"""Native infrastructure for development, tests and CI: Apache Kafka (KRaft) from Maven Central
jars and a private PostgreSQL cluster from Debian's packages (kafka.py, postgres.py: standard
library only, so they run before the virtualenv exists), plus namespaces (isolated databases
and topics) and a process supervisor for the Procfile's roles (namespace.py, system.py)."""
