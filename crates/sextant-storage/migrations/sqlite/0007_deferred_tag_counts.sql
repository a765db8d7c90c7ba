-- Issue tag value counts may be written a moment after their events, for many batches
-- at once (see src/sql/ingest_write/deferred_tags.rs). `from_event` is the lowest row id
-- of the events whose tags are not counted yet, NULL when all are.
CREATE TABLE tag_counts_pending (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    from_event  BIGINT
);
INSERT INTO tag_counts_pending (id, from_event) VALUES (1, NULL);
