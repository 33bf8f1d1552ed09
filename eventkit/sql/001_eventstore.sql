-- Plumbing tables every service database has.

-- Append-only event store: (stream_id, version) unique = optimistic concurrency.
CREATE TABLE events (
    position     bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    stream_id    text        NOT NULL,
    version      integer     NOT NULL,
    event_type   text        NOT NULL,
    data_version integer     NOT NULL,
    envelope     jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version)
);

-- Transactional outbox: written in the same transaction as the events, drained by the relay.
CREATE TABLE outbox (
    id        bigserial PRIMARY KEY,
    event_id  uuid        NOT NULL UNIQUE,
    topic     text        NOT NULL,
    key       text        NOT NULL,
    value     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at   timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Idempotent consumer: an event id recorded in the same transaction as its effect.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    topic        text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Idempotent commands: the first response to (caller, key) is replayed to retries.
CREATE TABLE idempotency_keys (
    caller       text  NOT NULL,
    key          text  NOT NULL,
    request_hash text  NOT NULL,
    status_code  integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
