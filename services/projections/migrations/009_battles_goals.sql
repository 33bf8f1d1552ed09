-- Multi-guest read models (services/projections/battles.py, goals.py; docs/multi-guest.md).
-- Scores and progress are running totals from gifting (BattleScored, GoalProgressed), merged
-- with GREATEST, so any order of events folds to the same row.
CREATE TABLE battles (
    battle_id       text PRIMARY KEY,
    started_by      text,
    started_at      timestamptz,
    ends_at         timestamptz,
    ended_at        timestamptz,
    winner_side     integer,
    last_event_time timestamptz NOT NULL
);

CREATE TABLE battle_sides (
    battle_id       text NOT NULL,
    side            integer NOT NULL,
    host_id         text,
    room_id         text,
    score           bigint,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (battle_id, side)
);

-- Per recipient of a stream's gifts (every recipient of a multi-guest gift, not only its
-- host): the coins and diamonds of their share.
CREATE TABLE stream_recipients (
    stream_id       text NOT NULL,
    creator_id      text NOT NULL,
    gifts           bigint NOT NULL DEFAULT 0,
    coins           bigint NOT NULL DEFAULT 0,
    diamonds        bigint NOT NULL DEFAULT 0,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (stream_id, creator_id)
);
CREATE INDEX stream_recipients_rank ON stream_recipients (stream_id, diamonds DESC, creator_id);

CREATE TABLE live_goals (
    goal_id         text PRIMARY KEY,
    creator_id      text,
    stream_id       text,
    metric          text,
    gift_code       text,
    target          bigint,
    deadline        timestamptz,
    progress        bigint,
    reached_at      timestamptz,
    reached_by_gift text,
    last_event_time timestamptz NOT NULL
);
CREATE INDEX live_goals_stream ON live_goals (stream_id, deadline);
