-- An SQLite file store queues accepted requests in a file of its own (the spool,
-- `<name>.inbox.db`) so that acknowledgements and processed batches take different write
-- locks. A batch transaction records here the spool rows it consumed, in the same
-- commit as what they produced; the rows are then deleted from the spool and the marks
-- removed. The `inbox` table above stays for in-memory databases and for rows queued by
-- earlier versions.
CREATE TABLE inbox_done (
    id INTEGER PRIMARY KEY
);
