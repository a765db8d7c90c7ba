-- An SQLite file store queues accepted requests in a journal of segment files beside the
-- database (`<name>.journal/`). This row is the position of the first record not yet
-- consumed; the transaction that writes what a batch of records produced moves it.
CREATE TABLE journal_cursor (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq    INTEGER NOT NULL,
    segment     INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL
);
INSERT INTO journal_cursor (id, next_seq, segment, byte_offset) VALUES (1, 1, 0, 0);

-- Journal records name their project by id, and a deleted project's requests may still be
-- queued there: the id of a deleted project is never handed out again (new projects take
-- an id above this floor).
CREATE TABLE id_floors (
    name  TEXT PRIMARY KEY,
    floor INTEGER NOT NULL
);
CREATE TRIGGER projects_id_floor AFTER DELETE ON projects BEGIN
    INSERT INTO id_floors (name, floor) VALUES ('projects', OLD.id)
    ON CONFLICT (name) DO UPDATE SET floor = MAX(floor, excluded.floor);
END;
