#!/bin/sh
# docker-compose.cluster.yml: run once by the postgres image when it initialises the primary's
# data (/docker-entrypoint-initdb.d): the standby's pg_basebackup and its WAL stream connect as
# the admin role, which the image's pg_hba.conf does not allow for `replication` by default.
set -e
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
