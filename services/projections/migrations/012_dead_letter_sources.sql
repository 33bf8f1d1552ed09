-- The refused messages already counted in dead_letter_counts (services/projections/dead_letters.py),
-- one row per consumer and SOURCE message: a consumer killed before it commits reads the poison
-- message again and dead-letters it again (a second dead letter at a new offset), and this key
-- counts the two once. A dead letter without readable source headers is keyed by its own
-- coordinates instead (topic '(dead-letter)', no Kafka topic name has parentheses).
CREATE TABLE IF NOT EXISTS dead_letter_sources (
    consumer text NOT NULL,
    topic text NOT NULL,
    "partition" integer NOT NULL,
    "offset" bigint NOT NULL,
    PRIMARY KEY (consumer, topic, "partition", "offset")
);

-- The per-partition positions this key replaces: a redelivered dead letter has the same
-- headers, so the same key, and nothing reads the positions any more.
DROP TABLE IF EXISTS dead_letter_positions;
