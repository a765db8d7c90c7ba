-- Issue tag value counts may be written a moment after their events, for many batches
-- at once (see src/sql/ingest_write/deferred_tags.rs). One row per batch that deferred
-- its counts: the row ids of its events, comma-separated. Sequences interleave the ids
-- of concurrent nodes' batches, so a batch names its events instead of a range.
CREATE TABLE tag_counts_pending (
    id      BIGSERIAL PRIMARY KEY,
    events  TEXT NOT NULL
);
