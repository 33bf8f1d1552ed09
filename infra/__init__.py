"""Native infrastructure for development, tests and CI: Apache Kafka (KRaft) from Maven Central
jars and a private PostgreSQL cluster from Debian's packages. Standard library only, so it runs
before the virtualenv exists."""
