-- Stored bytes are zstd frames already (inbox bodies, event and item payloads) or
-- attachments, which are mostly compressed formats: PostgreSQL's own compression of
-- large values (pglz, tried on every value over about 2 KiB) only costs CPU on them.
-- EXTERNAL still moves large values out of line, without trying to compress them.
ALTER TABLE inbox ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE events ALTER COLUMN payload SET STORAGE EXTERNAL;
ALTER TABLE attachments ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE raw_items ALTER COLUMN payload SET STORAGE EXTERNAL;
