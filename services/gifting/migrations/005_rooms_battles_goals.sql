-- Multi-guest rooms: the shares in force (the latest RoomSharesSet; every version is in the
-- event store, stream room-<id>). recipients/shares_bp are parallel arrays, host first.
CREATE TABLE rooms (
    room_id    text PRIMARY KEY,
    host_id    text      NOT NULL,
    recipients text[]    NOT NULL,
    shares_bp  integer[] NOT NULL,
    version    integer   NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (recipients[1] = host_id),
    CHECK (cardinality(recipients) = cardinality(shares_bp)),
    CHECK (cardinality(recipients) BETWEEN 1 AND 9)
);

-- LIVE goals: progress is moved by the gift batches that hold the row locked, so two batches
-- never both see themselves crossing the target. `version` numbers the goal's events
-- (stream goal-<id>).
CREATE TABLE goals (
    goal_id    text PRIMARY KEY,
    creator_id text    NOT NULL,
    stream_id  text    NOT NULL,
    metric     text    NOT NULL CHECK (metric IN ('coins', 'gifts')),
    gift_code  text,
    target     bigint  NOT NULL CHECK (target > 0),
    deadline   timestamptz NOT NULL,
    progress   bigint  NOT NULL DEFAULT 0,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((metric = 'gifts') = (gift_code IS NOT NULL))
);
CREATE INDEX goals_stream ON goals (stream_id, deadline);

-- One row per goal reached: written in the same statement as its GoalReached event, so a
-- second one (a replay, a race) fails the whole batch instead of emitting twice.
CREATE TABLE goals_reached (
    goal_id    text PRIMARY KEY REFERENCES goals (goal_id),
    gift_id    uuid NOT NULL,
    event_id   uuid NOT NULL UNIQUE,
    progress   bigint NOT NULL,
    reached_at timestamptz NOT NULL DEFAULT now()
);

-- Battles: sides by their host (a room side counts its room's gifts, whose host is its
-- host). One open battle per host at a time, so a gift counts for at most one side.
CREATE TABLE battles (
    battle_id  text PRIMARY KEY,
    started_by text    NOT NULL,
    started_at timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at > started_at),
    ended      boolean NOT NULL DEFAULT false,
    version    integer NOT NULL DEFAULT 1
);

CREATE TABLE battle_sides (
    battle_id text    NOT NULL REFERENCES battles (battle_id),
    side      integer NOT NULL,
    host_id   text    NOT NULL,
    room_id   text,
    score     bigint  NOT NULL DEFAULT 0,
    version   integer NOT NULL DEFAULT 0, -- of its BattleScored events (stream battle-<id>-<side>)
    ends_at   timestamptz NOT NULL,
    -- false once the battle ended: on the side row, which a gift batch locks, so a batch that
    -- waited on the end's lock re-reads it and adds nothing after BattleEnded.
    open      boolean NOT NULL DEFAULT true,
    PRIMARY KEY (battle_id, side)
);
CREATE INDEX battle_sides_host ON battle_sides (host_id, ends_at);
