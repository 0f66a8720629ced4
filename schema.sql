-- ascolto's whole database schema, embedded into the binary.
--
-- The file is a list of numbered migrations, each introduced by a line `-- migration N`.
-- A database at PRAGMA user_version = K gets every migration above K, each in its own
-- transaction, and its user_version set to N. Never edit a migration that has shipped:
-- append a new one.
--
-- Conventions: times are RFC 3339 text in UTC ("2026-03-31T23:30:00Z"); booleans are 0/1;
-- STRICT tables everywhere.

-- migration 1

-- Small key/value facts the application keeps, e.g. the routing rules' generation counter.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('rules_generation', '0');

-- Hospital units a ticket may concern.
CREATE TABLE services (
    id     INTEGER PRIMARY KEY,
    code   TEXT NOT NULL UNIQUE,
    name   TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) STRICT;

-- The two-level subject code list (macro-category "TEM", sub-category "TEM.02").
CREATE TABLE categories (
    id        INTEGER PRIMARY KEY,
    code      TEXT NOT NULL UNIQUE,
    parent_id INTEGER REFERENCES categories(id),
    label     TEXT NOT NULL,
    position  INTEGER NOT NULL DEFAULT 0,
    active    INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) STRICT;

-- Classification rules: in priority order (lowest first), each matching rule fills whichever of
-- category, service and kind are still unset.
CREATE TABLE routing_rules (
    id          INTEGER PRIMARY KEY,
    priority    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    field       TEXT NOT NULL CHECK (field IN ('subject', 'body', 'sender', 'text')),
    pattern     TEXT NOT NULL,
    category_id INTEGER REFERENCES categories(id),
    service_id  INTEGER REFERENCES services(id),
    kind        TEXT CHECK (kind IN ('reclamo', 'segnalazione', 'elogio', 'suggerimento')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    CHECK (category_id IS NOT NULL OR service_id IS NOT NULL OR kind IS NOT NULL)
) STRICT;
CREATE INDEX routing_rules_priority ON routing_rules(priority, id);
-- The ingest keeps the compiled rules in memory and recompiles when this counter moves.
CREATE TRIGGER routing_rules_ins AFTER INSERT ON routing_rules BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rules_generation';
END;
CREATE TRIGGER routing_rules_upd AFTER UPDATE ON routing_rules BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rules_generation';
END;
CREATE TRIGGER routing_rules_del AFTER DELETE ON routing_rules BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rules_generation';
END;

-- Citizens, by email address.
CREATE TABLE contacts (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name           TEXT,
    bouncing_since TEXT,
    created_at     TEXT NOT NULL
) STRICT;

-- Gap-free ticket numbers: the counter moves in the transaction that creates the ticket.
CREATE TABLE ticket_sequences (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
) STRICT;

CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY,
    number             TEXT NOT NULL UNIQUE,
    year               INTEGER NOT NULL,
    seq                INTEGER NOT NULL,
    -- Secret carried in the Message-IDs of mail we send about this ticket (threading proof).
    thread_token       TEXT NOT NULL,
    state              TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'in_charge', 'answered', 'closed')),
    kind               TEXT CHECK (kind IN ('reclamo', 'segnalazione', 'elogio', 'suggerimento')),
    category_id        INTEGER REFERENCES categories(id),
    service_id         INTEGER REFERENCES services(id),
    contact_id         INTEGER NOT NULL REFERENCES contacts(id),
    subject            TEXT NOT NULL,
    received_at        TEXT NOT NULL,
    due_at             TEXT NOT NULL,
    channel            TEXT NOT NULL CHECK (channel IN ('email', 'pec')),
    -- A ticket opened by someone who named another ticket's number, or by a late reply.
    linked_ticket_id   INTEGER REFERENCES tickets(id),
    needs_attention    INTEGER NOT NULL DEFAULT 1 CHECK (needs_attention IN (0, 1)),
    taken_in_charge_at TEXT,
    first_answered_at  TEXT,
    closed_at          TEXT,
    outcome            TEXT,
    reopen_count       INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (year, seq)
) STRICT;
CREATE INDEX tickets_state ON tickets(state, received_at);
CREATE INDEX tickets_received ON tickets(received_at);
CREATE INDEX tickets_category ON tickets(category_id, received_at);
CREATE INDEX tickets_service ON tickets(service_id, received_at);
CREATE INDEX tickets_contact ON tickets(contact_id);

-- The original bytes of every inbound message, unchanged (a PEC envelope is a signed document).
-- The hash makes "the same bytes twice" impossible.
CREATE TABLE raw_mail (
    id         INTEGER PRIMARY KEY,
    sha256     TEXT NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    bytes      BLOB NOT NULL,
    -- Where it came from: "imap:NAME uidvalidity=V uid=U" or "import:PATH".
    source     TEXT NOT NULL,
    fetched_at TEXT NOT NULL
) STRICT;

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    raw_id      INTEGER REFERENCES raw_mail(id),
    -- Message-ID and In-Reply-To without angle brackets; for PEC, the envelope's.
    message_id  TEXT,
    in_reply_to TEXT,
    from_email  TEXT,
    from_name   TEXT,
    subject     TEXT NOT NULL,
    body_text   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    -- NULL when a person wrote it; else 'auto_reply', 'bounce' or 'pec_receipt'.
    automatic   TEXT CHECK (automatic IN ('auto_reply', 'bounce', 'pec_receipt')),
    -- For mail that came through PEC: JSON with the envelope kind, identificativo, certified time.
    pec         TEXT,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX messages_ticket ON messages(ticket_id, received_at);
CREATE INDEX messages_message_id ON messages(message_id);

-- Attachments' metadata; the bytes stay inside raw_mail and are extracted on demand.
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id),
    -- Position among the attachments of the citizen's message (inside postacert.eml for PEC).
    position     INTEGER NOT NULL,
    filename     TEXT,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL
) STRICT;
CREATE INDEX attachments_message ON attachments(message_id);

-- Full-text search over subjects and bodies, kept in step with `messages` by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    subject, body_text, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_ins AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, subject, body_text) VALUES (new.id, new.subject, new.body_text);
END;
CREATE TRIGGER messages_fts_del AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, body_text)
    VALUES ('delete', old.id, old.subject, old.body_text);
END;
CREATE TRIGGER messages_fts_upd AFTER UPDATE OF subject, body_text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, body_text)
    VALUES ('delete', old.id, old.subject, old.body_text);
    INSERT INTO messages_fts (rowid, subject, body_text) VALUES (new.id, new.subject, new.body_text);
END;

-- Messages that could not become part of a ticket, with the reason; raw bytes kept.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    raw_id      INTEGER NOT NULL REFERENCES raw_mail(id),
    received_at TEXT NOT NULL,
    -- 'unparseable', 'store_error', 'automatic' (auto-reply/bounce/receipt about no ticket)
    kind        TEXT NOT NULL CHECK (kind IN ('unparseable', 'store_error', 'automatic')),
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolution  TEXT
) STRICT;
CREATE INDEX quarantine_open ON quarantine(resolved_at, id);

-- How far each configured mailbox has been ingested. Progress moves in the same transaction
-- as the messages it covers.
CREATE TABLE mailbox_progress (
    mailbox     TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- Who did what, when. Append-only: the triggers refuse any change. `detail` is JSON and holds
-- no personal data, so that anonymisation never needs to touch this table.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id),
    detail    TEXT
) STRICT;
CREATE INDEX audit_log_ticket ON audit_log(ticket_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- migration 2

-- Backoffice accounts. `notify` is the "riceve mail" flag: a mail for every new ticket.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash TEXT NOT NULL,
    notify        INTEGER NOT NULL DEFAULT 0 CHECK (notify IN (0, 1)),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL
) STRICT;

ALTER TABLE tickets ADD COLUMN assigned_to INTEGER REFERENCES users(id);
-- The operator who wrote an outbound message.
ALTER TABLE messages ADD COLUMN author_id INTEGER REFERENCES users(id);

-- Mail to send (DESIGN.md invariant 8): written in the transaction of the change that causes
-- it, sent at least once by the outbox worker with the same Message-ID every time. Mail that
-- must not go out (rate limit, bouncing address) stays here as 'suppressed' with the reason.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER REFERENCES tickets(id),
    kind            TEXT NOT NULL
                    CHECK (kind IN ('ack', 'in_charge', 'answer', 'reopened', 'closed', 'new_ticket')),
    to_address      TEXT NOT NULL COLLATE NOCASE,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    in_reply_to     TEXT,
    refs            TEXT,
    -- Carries Auto-Submitted: auto-replied (everything but an operator's answer).
    automatic       INTEGER NOT NULL CHECK (automatic IN (0, 1)),
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox(to_address, created_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id, id);

-- migration 3

-- Backoffice sign-in: one row per signed-in browser. The cookie holds a random secret; only
-- its SHA-256 is stored, so a copy of the database signs nobody in.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    -- The token every form of this session carries (CSRF).
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

-- Internal notes: operators' remarks on a ticket, never sent to the citizen.
CREATE TABLE notes (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    author_id  INTEGER NOT NULL REFERENCES users(id),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX notes_ticket ON notes(ticket_id, id);

-- A ticket merged into another: its messages and notes moved there, it is closed, and mail
-- threading that still names it lands on the surviving ticket.
ALTER TABLE tickets ADD COLUMN merged_into INTEGER REFERENCES tickets(id);

-- The dashboard's counts by state, kept by triggers so that they cost nothing on a large
-- database.
CREATE TABLE ticket_state_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) STRICT;
INSERT INTO ticket_state_counts (state, n)
    SELECT s.state, (SELECT count(*) FROM tickets t WHERE t.state = s.state)
    FROM (SELECT 'pending' AS state UNION ALL SELECT 'in_charge' UNION ALL SELECT 'answered'
          UNION ALL SELECT 'closed') s;
CREATE TRIGGER tickets_count_ins AFTER INSERT ON tickets BEGIN
    UPDATE ticket_state_counts SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER tickets_count_upd AFTER UPDATE OF state ON tickets WHEN old.state != new.state BEGIN
    UPDATE ticket_state_counts SET n = n - 1 WHERE state = old.state;
    UPDATE ticket_state_counts SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER tickets_count_del AFTER DELETE ON tickets BEGIN
    UPDATE ticket_state_counts SET n = n - 1 WHERE state = old.state;
END;

-- What the dashboard's queues read: open tickets are few, closed ones many, so each queue has
-- a partial index whose condition the query (store::backoffice) repeats word for word.
CREATE INDEX tickets_open_received ON tickets(received_at) WHERE state != 'closed';
CREATE INDEX tickets_attention ON tickets(received_at)
    WHERE needs_attention = 1 AND state IN ('in_charge', 'answered');
CREATE INDEX tickets_unanswered_due ON tickets(due_at)
    WHERE state != 'closed' AND first_answered_at IS NULL;
CREATE INDEX tickets_unclassified ON tickets(received_at)
    WHERE state != 'closed' AND category_id IS NULL;
-- The tickets that name one: linked to it (opened by a stranger or a late reply), merged into it.
CREATE INDEX tickets_linked ON tickets(linked_ticket_id) WHERE linked_ticket_id IS NOT NULL;
CREATE INDEX tickets_merged ON tickets(merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX tickets_assigned ON tickets(assigned_to, received_at);
CREATE INDEX tickets_kind ON tickets(kind, received_at);
CREATE INDEX audit_log_at ON audit_log(at);

-- migration 4

-- The statistics read a whole year of tickets at once (200,000 on a large hospital's
-- database): every column they need is in this index, so the scan reads it in order and never
-- touches the table. About 100 bytes a ticket.
CREATE INDEX tickets_stats ON tickets(received_at, merged_into, kind, category_id, service_id,
    state, outcome, channel, reopen_count, due_at, taken_in_charge_at, first_answered_at,
    closed_at);

-- Moves whenever anything the statistics count changes: the backoffice keeps a computed report
-- only while this counter stays where it was.
INSERT INTO meta (key, value) VALUES ('stats_generation', '0');
CREATE TRIGGER stats_tickets_ins AFTER INSERT ON tickets BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;
CREATE TRIGGER stats_tickets_upd AFTER UPDATE ON tickets BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;
CREATE TRIGGER stats_tickets_del AFTER DELETE ON tickets BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;
CREATE TRIGGER stats_categories_upd AFTER UPDATE ON categories BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;
CREATE TRIGGER stats_services_upd AFTER UPDATE ON services BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;

-- migration 5

-- The statistics keep the tickets of each month they have read in memory and read a month
-- again only when something in it changed: every change to a ticket moves the generation of
-- the UTC month (`YYYY-MM` of `received_at`) it was received in. A new complaint today then
-- costs the year view one month's read, not the year's. (A month never written has no row:
-- generation 0.)
CREATE TABLE stats_months (
    month TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;

DROP TRIGGER stats_tickets_ins;
DROP TRIGGER stats_tickets_upd;
DROP TRIGGER stats_tickets_del;

CREATE TRIGGER stats_months_ins AFTER INSERT ON tickets BEGIN
    INSERT OR IGNORE INTO stats_months (month, generation) VALUES (substr(NEW.received_at, 1, 7), 0);
    UPDATE stats_months SET generation = generation + 1 WHERE month = substr(NEW.received_at, 1, 7);
END;
-- Only the columns the statistics read (the same as the index `tickets_stats`, and the id).
CREATE TRIGGER stats_months_upd AFTER UPDATE OF received_at, merged_into, kind, category_id,
    service_id, state, outcome, channel, reopen_count, due_at, taken_in_charge_at,
    first_answered_at, closed_at ON tickets BEGIN
    INSERT OR IGNORE INTO stats_months (month, generation) VALUES (substr(NEW.received_at, 1, 7), 0);
    UPDATE stats_months SET generation = generation + 1
     WHERE month IN (substr(OLD.received_at, 1, 7), substr(NEW.received_at, 1, 7));
END;
CREATE TRIGGER stats_months_del AFTER DELETE ON tickets BEGIN
    UPDATE stats_months SET generation = generation + 1 WHERE month = substr(OLD.received_at, 1, 7);
END;

-- migration 6

-- When a ticket's personal data were replaced by the retention job (see `retention.rs`).
ALTER TABLE tickets ADD COLUMN anonymised_at TEXT;
-- The closed tickets the job has still to look at, oldest closing first: a ticket leaves the
-- index when it is done, so a run reads only what is due (not every closed ticket per batch).
CREATE INDEX tickets_to_anonymise ON tickets(closed_at)
    WHERE state = 'closed' AND anonymised_at IS NULL;

-- migration 7

-- Why the hospital's own mail server could not authenticate the sender ("dmarc=fail", from
-- its Authentication-Results header; see mail::auth); NULL when it could or said nothing. Such
-- a message never joins, reopens or changes an existing ticket: it opens a new, linked one.
ALTER TABLE messages ADD COLUMN sender_unverified TEXT;

-- When the retention job removed a quarantined message's contents (its raw bytes and reason).
ALTER TABLE quarantine ADD COLUMN anonymised_at TEXT;

-- migration 8

-- The rate limit of automatic replies counts per mailbox, not per spelling of its address
-- (issue 11: `victim+1@…` … `victim+5@…` each got an acknowledgement). `to_key` is the
-- recipient as `notify::RecipientKey` reduces it (lower case, `+tag` removed, Gmail's dots
-- removed), written with every row. Rows from before get their address in lower case: the
-- limit then counts them as it did when they were sent, and they leave the window within a day.
ALTER TABLE outbox ADD COLUMN to_key TEXT;
UPDATE outbox SET to_key = lower(to_address);
-- A changed address (the retention job blanks it) leaves no key behind.
CREATE TRIGGER outbox_to_key_follows_address AFTER UPDATE OF to_address ON outbox
WHEN new.to_address IS NOT old.to_address BEGIN
    UPDATE outbox SET to_key = NULL WHERE id = new.id;
END;
-- The two counts of the rate limit (store::outbox), run for every inbound mail: per mailbox
-- over its window, and to anyone over the last hour. Each reads one range of its index and
-- nothing else (state and kind are in the index); the queries repeat the condition word for word.
CREATE INDEX outbox_replies_to ON outbox(to_key, created_at, state, kind)
    WHERE kind IN ('ack', 'reopened');
CREATE INDEX outbox_replies_recent ON outbox(created_at, state, kind)
    WHERE kind IN ('ack', 'reopened');

-- migration 9

-- The istruttoria (issue 14): asking the service concerned for its report, by mail.

-- The people a service answers through ("Direttore UO", "Coordinatore infermieristico"). They
-- never sign in; a bounce of a request marks the address as wrong.
CREATE TABLE referenti (
    id             INTEGER PRIMARY KEY,
    service_id     INTEGER NOT NULL REFERENCES services(id),
    name           TEXT NOT NULL,
    email          TEXT NOT NULL COLLATE NOCASE,
    role           TEXT NOT NULL DEFAULT '',
    active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    bouncing_since TEXT,
    created_at     TEXT NOT NULL,
    UNIQUE (service_id, email)
) STRICT;

-- One request for a report, to one referente. `tag` ("URP-2026-000042 R1") names it in
-- subjects and stays as written when the ticket is merged into another.
CREATE TABLE requests (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets(id),
    tag            TEXT NOT NULL UNIQUE,
    referente_id   INTEGER REFERENCES referenti(id),
    -- The service asked, copied when sent: the statistics count by it.
    service_id     INTEGER REFERENCES services(id),
    to_address     TEXT NOT NULL COLLATE NOCASE,
    to_name        TEXT NOT NULL,
    subject        TEXT NOT NULL,
    body_text      TEXT NOT NULL,
    author_id      INTEGER NOT NULL REFERENCES users(id),
    state          TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered')),
    sent_at        TEXT NOT NULL,
    due_at         TEXT NOT NULL,
    reminded_at    TEXT,
    escalated_at   TEXT,
    answered_at    TEXT,
    -- A report arrived that no operator has read yet (the dashboard's queue).
    report_unread  INTEGER NOT NULL DEFAULT 0 CHECK (report_unread IN (0, 1)),
    auto_reply_at  TEXT,
    bounced_at     TEXT,
    created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX requests_ticket ON requests(ticket_id, id);
CREATE INDEX requests_open ON requests(due_at) WHERE state = 'open';
CREATE INDEX requests_unread ON requests(answered_at) WHERE report_unread = 1;
CREATE INDEX requests_sent ON requests(sent_at);

-- A report, an out-of-office reply or a bounce about a request is a message of the ticket that
-- belongs to the request: internal, never the citizen's.
ALTER TABLE messages ADD COLUMN request_id INTEGER REFERENCES requests(id);
-- The citizen's own messages are those without a request (threading, quotes, counts).
CREATE INDEX messages_request ON messages(request_id) WHERE request_id IS NOT NULL;

-- The outbox learns the istruttoria's kinds of mail and which request a mail belongs to (a
-- reply naming its Message-ID is a report). SQLite cannot change a CHECK in place: the table is
-- rebuilt, with its indexes and trigger, rows and ids unchanged.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER REFERENCES tickets(id),
    kind            TEXT NOT NULL
                    CHECK (kind IN ('ack', 'in_charge', 'answer', 'reopened', 'closed', 'new_ticket',
                                    'request', 'request_reminder', 'request_escalation',
                                    'report_arrived')),
    to_address      TEXT NOT NULL COLLATE NOCASE,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    in_reply_to     TEXT,
    refs            TEXT,
    automatic       INTEGER NOT NULL CHECK (automatic IN (0, 1)),
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    to_key          TEXT,
    request_id      INTEGER REFERENCES requests(id)
) STRICT;
INSERT INTO outbox_new (id, ticket_id, kind, to_address, subject, body_text, message_id,
    in_reply_to, refs, automatic, state, attempts, next_attempt_at, last_error, created_at,
    sent_at, to_key)
SELECT id, ticket_id, kind, to_address, subject, body_text, message_id, in_reply_to, refs,
    automatic, state, attempts, next_attempt_at, last_error, created_at, sent_at, to_key
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox(to_address, created_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id, id);
CREATE INDEX outbox_request ON outbox(request_id, id) WHERE request_id IS NOT NULL;
CREATE TRIGGER outbox_to_key_follows_address AFTER UPDATE OF to_address ON outbox
WHEN new.to_address IS NOT old.to_address BEGIN
    UPDATE outbox SET to_key = NULL WHERE id = new.id;
END;
CREATE INDEX outbox_replies_to ON outbox(to_key, created_at, state, kind)
    WHERE kind IN ('ack', 'reopened');
CREATE INDEX outbox_replies_recent ON outbox(created_at, state, kind)
    WHERE kind IN ('ack', 'reopened');

-- The statistics count requests too: a computed report is kept only while this stays put.
CREATE TRIGGER stats_requests_ins AFTER INSERT ON requests BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;
CREATE TRIGGER stats_requests_upd AFTER UPDATE OF state, answered_at, service_id, sent_at, due_at
    ON requests BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;

-- migration 10

-- The learned classifier (issue 13; `src/learned`): the model in use, as `learn::Model::to_bytes`
-- wrote it. Only the newest row is kept: an older model may hold words of tickets anonymised
-- since, and retraining is how they are forgotten. `version` only grows (AUTOINCREMENT), so a
-- ticket's "model 7" names one training for good.
CREATE TABLE classifier_models (
    version         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- learn::FORMAT_VERSION of `bytes`: a build that cannot read it retrains.
    format_version  INTEGER NOT NULL,
    trained_at      TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('first_start', 'nightly', 'on_demand')),
    -- What it learnt from: the shipped corpus and the operators' confirmed tickets.
    corpus_examples INTEGER NOT NULL,
    ticket_examples INTEGER NOT NULL,
    seconds         REAL NOT NULL,
    -- The calibrated thresholds, JSON: {"kind": 0.91, "category": null, ...}; null: the field
    -- never decides by itself.
    thresholds      TEXT NOT NULL,
    bytes           BLOB NOT NULL
) STRICT;

-- Where each classification field's current value came from (DESIGN.md "Classification"):
-- a routing rule, the model (with its version and confidence) or an operator, and when. No row:
-- the field was never set. A field an operator confirmed is what the model learns from.
CREATE TABLE ticket_field_sources (
    ticket_id     INTEGER NOT NULL REFERENCES tickets(id),
    field         TEXT NOT NULL CHECK (field IN ('kind', 'category', 'service')),
    source        TEXT NOT NULL CHECK (source IN ('rule', 'model', 'operator')),
    -- A rule may be deleted later: its id and name are kept as they were.
    rule_id       INTEGER,
    rule_name     TEXT,
    model_version INTEGER,
    confidence    REAL,
    user_id       INTEGER REFERENCES users(id),
    at            TEXT NOT NULL,
    PRIMARY KEY (ticket_id, field)
) STRICT, WITHOUT ROWID;
CREATE INDEX ticket_field_sources_source ON ticket_field_sources(field, source, ticket_id);

-- The model's best guesses for a field it did not fill (at most three, best first): shown on
-- the ticket page and the list, confirmed with one click. Codes only, no personal data.
CREATE TABLE ticket_suggestions (
    ticket_id     INTEGER NOT NULL REFERENCES tickets(id),
    field         TEXT NOT NULL CHECK (field IN ('kind', 'category', 'service')),
    rank          INTEGER NOT NULL,
    -- A kind word, a category code or a service code ('-': no unit concerned).
    value         TEXT NOT NULL,
    confidence    REAL NOT NULL,
    model_version INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, field, rank)
) STRICT, WITHOUT ROWID;

-- What each routing rule set on a new ticket, kept when an operator changes the field later:
-- the administration page measures how often each rule agreed with the operators.
CREATE TABLE rule_results (
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    field       TEXT NOT NULL CHECK (field IN ('kind', 'category', 'service')),
    rule_id     INTEGER NOT NULL,
    kind        TEXT,
    category_id INTEGER,
    service_id  INTEGER,
    PRIMARY KEY (ticket_id, field)
) STRICT, WITHOUT ROWID;
CREATE INDEX rule_results_rule ON rule_results(rule_id);

-- `ascolto classify evaluate`'s runs: the administration page shows the latest.
CREATE TABLE classifier_evaluations (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    -- 'tickets' (the operators' confirmed tickets) or the corpus file's path.
    source   TEXT NOT NULL,
    folds    INTEGER NOT NULL,
    examples INTEGER NOT NULL,
    -- JSON: per field labelled, decided, precision, coverage, top-1 and top-3 accuracy.
    summary  TEXT NOT NULL,
    -- The whole report as `evaluate --format table` prints it.
    report   TEXT NOT NULL
) STRICT;

-- migration 11

-- Every channel a complaint may come by (issue 15): phone, desk, letter and the public web form
-- besides mail. SQLite cannot alter a CHECK constraint; widening an IN list changes no stored
-- row's validity, so the table's definition is rewritten in place (the procedure SQLite's
-- documentation gives for loosening constraints, "ALTER TABLE", section 7) rather than
-- rebuilding a table that a dozen others reference. The DDL below moves the schema cookie, so
-- every connection reads the new definition.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (channel IN (''email'', ''pec''))',
       'CHECK (channel IN (''email'', ''pec'', ''web'', ''telefono'', ''sportello'', ''lettera''))')
 WHERE type = 'table' AND name = 'tickets';
PRAGMA writable_schema = RESET;

-- What a complaint taken by phone, at the desk, by letter or through the public form records of
-- the citizen beyond the contact (whose address may be the no-mail placeholder, see
-- `domain::address::NO_EMAIL_DOMAIN`). One row per ticket entered that way; personal data,
-- replaced by the retention job.
CREATE TABLE ticket_citizens (
    ticket_id        INTEGER PRIMARY KEY REFERENCES tickets(id),
    phone            TEXT,
    -- Digits only, for the list's search.
    phone_digits     TEXT,
    postal_address   TEXT,
    -- Someone acting for another: the delegate writes, `concerned` is the person concerned.
    delegate         TEXT,
    concerned        TEXT,
    -- The public form: the address is the citizen's own only once they followed the link in
    -- the acknowledgement. Until then no further mail goes to it.
    email_unconfirmed INTEGER NOT NULL DEFAULT 0 CHECK (email_unconfirmed IN (0, 1)),
    -- Who recorded it (an operator; NULL for the public form).
    recorded_by      INTEGER REFERENCES users(id)
) STRICT;
CREATE INDEX ticket_citizens_phone ON ticket_citizens(phone_digits) WHERE phone_digits IS NOT NULL;

-- The citizen's own page (`/pratica/<link>`): each mail to the citizen carries a fresh link;
-- only the SHA-256 of its secret is stored, so a copy of the database opens no page. The
-- retention job deletes a ticket's rows (its links then answer 404).
CREATE TABLE citizen_links (
    secret_sha256 TEXT PRIMARY KEY,
    ticket_id     INTEGER NOT NULL REFERENCES tickets(id),
    created_at    TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX citizen_links_ticket ON citizen_links(ticket_id);

-- What the citizen said on their page after the answer: satisfied or not (with the reason).
CREATE TABLE citizen_feedback (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    satisfied  INTEGER NOT NULL CHECK (satisfied IN (0, 1)),
    reason     TEXT,
    at         TEXT NOT NULL
) STRICT;
CREATE INDEX citizen_feedback_ticket ON citizen_feedback(ticket_id, id);

-- The list's search by name and address (contacts.email is already UNIQUE NOCASE).
CREATE INDEX contacts_name ON contacts(name COLLATE NOCASE);

-- migration 12

-- Answering as an URP answers (issue 19).
--
-- Every change of a ticket's answer deadline, on the record: suspended (waiting for the
-- citizen), resumed (the suspended Rome days added), extended (to `to_days` from receipt).
-- `tickets.due_at` is the effective deadline, moved in the same transaction; the original is
-- the first change's `due_before` (or `tickets.due_at` when nothing changed). `reason` is the
-- operator's text (personal data: the retention job blanks it).
CREATE TABLE deadline_changes (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    kind       TEXT NOT NULL CHECK (kind IN ('suspended', 'resumed', 'extended')),
    at         TEXT NOT NULL,
    reason     TEXT NOT NULL,
    to_days    INTEGER,
    due_before TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    user_id    INTEGER REFERENCES users(id)
) STRICT;
CREATE INDEX deadline_changes_ticket ON deadline_changes(ticket_id, id);
CREATE TRIGGER stats_deadline_changes_ins AFTER INSERT ON deadline_changes BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;

-- The administrators' answer models: a title, the kind and category they suit (NULL: any), and
-- a text with the mail templates' variables, filled in on the server when an operator picks it.
CREATE TABLE answer_models (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    kind        TEXT CHECK (kind IN ('reclamo', 'segnalazione', 'elogio', 'suggerimento')),
    category_id INTEGER REFERENCES categories(id),
    body        TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    updated_at  TEXT NOT NULL
) STRICT;

-- The outbox learns the deadline's notice to the citizen. Its kinds are no longer listed in a
-- CHECK: `MailKind` is decoded where a row is read (an unknown word is an error there), and a
-- list here meant rebuilding the table for every new kind of mail. Rows, ids, indexes and the
-- trigger are kept as they were.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER REFERENCES tickets(id),
    kind            TEXT NOT NULL,
    to_address      TEXT NOT NULL COLLATE NOCASE,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    in_reply_to     TEXT,
    refs            TEXT,
    automatic       INTEGER NOT NULL CHECK (automatic IN (0, 1)),
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    to_key          TEXT,
    request_id      INTEGER REFERENCES requests(id)
) STRICT;
INSERT INTO outbox_new (id, ticket_id, kind, to_address, subject, body_text, message_id,
    in_reply_to, refs, automatic, state, attempts, next_attempt_at, last_error, created_at,
    sent_at, to_key, request_id)
SELECT id, ticket_id, kind, to_address, subject, body_text, message_id, in_reply_to, refs,
    automatic, state, attempts, next_attempt_at, last_error, created_at, sent_at, to_key,
    request_id
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox(to_address, created_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id, id);
CREATE INDEX outbox_request ON outbox(request_id, id) WHERE request_id IS NOT NULL;
CREATE TRIGGER outbox_to_key_follows_address AFTER UPDATE OF to_address ON outbox
WHEN new.to_address IS NOT old.to_address BEGIN
    UPDATE outbox SET to_key = NULL WHERE id = new.id;
END;
CREATE INDEX outbox_replies_to ON outbox(to_key, created_at, state, kind)
    WHERE kind IN ('ack', 'reopened');
CREATE INDEX outbox_replies_recent ON outbox(created_at, state, kind)
    WHERE kind IN ('ack', 'reopened');

-- The second level (riesame): a citizen still unsatisfied after the answer asks for a review by
-- one of `[workflow] review_bodies` (the Commissione Mista Conciliativa, the Difensore civico).
-- One per ticket, with its own dates and outcome; `notes` (the documents sent, the body's
-- findings) is the operator's text, which the retention job blanks.
CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL UNIQUE REFERENCES tickets(id),
    body       TEXT NOT NULL,
    opened_at  TEXT NOT NULL,
    opened_by  INTEGER REFERENCES users(id),
    notes      TEXT NOT NULL DEFAULT '',
    closed_at  TEXT,
    closed_by  INTEGER REFERENCES users(id),
    outcome    TEXT CHECK (outcome IN ('accolto', 'parzialmente_accolto', 'non_accolto',
                                       'non_di_competenza', 'altro'))
) STRICT;
CREATE INDEX reviews_opened ON reviews(opened_at);
CREATE TRIGGER stats_reviews_ins AFTER INSERT ON reviews BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;
CREATE TRIGGER stats_reviews_upd AFTER UPDATE OF outcome, closed_at, body ON reviews BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'stats_generation';
END;

-- Files an operator attached to an answer: sent with its mail (multipart, `outbox_id`), shown
-- and downloadable on the ticket (`message_id`: the answer as stored). The retention job
-- deletes them with the rest of the ticket's personal data.
-- Sign-off (`[workflow] answers_need_approval`): an operator's answer kept as a draft until a
-- user with the approver right approves it (then it is sent as its author's answer) or returns
-- it with a comment. `body` and `comment` are blanked by the retention job.
CREATE TABLE answer_drafts (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    author_id  INTEGER NOT NULL REFERENCES users(id),
    body       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'returned')),
    created_at TEXT NOT NULL,
    decided_by INTEGER REFERENCES users(id),
    decided_at TEXT,
    comment    TEXT
) STRICT;
CREATE INDEX answer_drafts_ticket ON answer_drafts(ticket_id, id);
CREATE INDEX answer_drafts_pending ON answer_drafts(id) WHERE state = 'pending';
-- The approver right (sign-off).
ALTER TABLE users ADD COLUMN approver INTEGER NOT NULL DEFAULT 0 CHECK (approver IN (0, 1));

CREATE TABLE answer_files (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
    -- NULL while the answer is a draft awaiting approval (`draft_id`).
    outbox_id    INTEGER REFERENCES outbox(id),
    draft_id     INTEGER REFERENCES answer_drafts(id),
    message_id   INTEGER REFERENCES messages(id),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX answer_files_outbox ON answer_files(outbox_id);
CREATE INDEX answer_files_ticket ON answer_files(ticket_id);

-- The morning digest (issue 19): an account asks for it with this flag.
ALTER TABLE users ADD COLUMN digest INTEGER NOT NULL DEFAULT 0 CHECK (digest IN (0, 1));

-- migration 13

-- From complaints to improvement (issue 20): each ticket's analysis, clinical risk, frail
-- citizens, improvement actions and the regional codes. Codes and flags only, except the
-- analysis note (internal, removed by the anonymisation like notes) and the actions' own text
-- (written by staff, published in the transparency report).

-- The components a complaint is analysed in: a list the hospital edits.
CREATE TABLE complaint_components (
    id       INTEGER PRIMARY KEY,
    code     TEXT NOT NULL UNIQUE,
    label    TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    active   INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) STRICT;
INSERT INTO complaint_components (code, label, position) VALUES
 ('SOG', 'Soggettiva', 10),
 ('REL', 'Relazionale', 20),
 ('ORG', 'Organizzativa', 30),
 ('TEC', 'Tecnico-professionale', 40),
 ('STR', 'Strutturale', 50),
 ('INF', 'Informativa', 60);

-- Why a citizen is frail ("persona fragile"): a list the hospital edits.
CREATE TABLE fragility_kinds (
    id       INTEGER PRIMARY KEY,
    code     TEXT NOT NULL UNIQUE,
    label    TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    active   INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) STRICT;
INSERT INTO fragility_kinds (code, label, position) VALUES
 ('ANZ', 'Persona anziana', 10),
 ('DIS', 'Persona con disabilità', 20),
 ('MIN', 'Minore', 30),
 ('NAU', 'Persona non autosufficiente o con patologia cronica', 40),
 ('LIN', 'Barriera linguistica o culturale', 50),
 ('ALT', 'Altra fragilità', 60);

-- One row per analysed ticket. `founded`: NULL until assessed. `fragility_id`: the citizen is
-- frail (NULL: not flagged). `risk`: a possible adverse event, for the risk manager.
CREATE TABLE ticket_analysis (
    ticket_id       INTEGER PRIMARY KEY REFERENCES tickets(id),
    founded         TEXT CHECK (founded IN ('fondato', 'parzialmente_fondato', 'infondato')),
    note            TEXT NOT NULL DEFAULT '',
    fragility_id    INTEGER REFERENCES fragility_kinds(id),
    risk            INTEGER NOT NULL DEFAULT 0 CHECK (risk IN (0, 1)),
    risk_flagged_at TEXT,
    updated_at      TEXT NOT NULL,
    updated_by      INTEGER REFERENCES users(id)
) STRICT;
CREATE INDEX ticket_analysis_risk ON ticket_analysis(risk_flagged_at) WHERE risk = 1;
CREATE INDEX ticket_analysis_fragile ON ticket_analysis(fragility_id) WHERE fragility_id IS NOT NULL;

CREATE TABLE ticket_components (
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
    component_id INTEGER NOT NULL REFERENCES complaint_components(id),
    PRIMARY KEY (ticket_id, component_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ticket_components_component ON ticket_components(component_id);

-- Where the trust's other registers know the case: incident reporting, claims, litigation.
CREATE TABLE ticket_risk_refs (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    register   TEXT NOT NULL,
    identifier TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (ticket_id, register, identifier)
) STRICT;

-- The right to see the tickets flagged as possible adverse events (risk manager, quality
-- office), on any role; administrators have it anyway.
ALTER TABLE users ADD COLUMN risk_manager INTEGER NOT NULL DEFAULT 0 CHECK (risk_manager IN (0, 1));

-- Azioni di miglioramento: what the trust did or committed to do.
CREATE TABLE improvement_actions (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    service_id   INTEGER REFERENCES services(id),
    owner        TEXT NOT NULL DEFAULT '',
    -- YYYY-MM-DD
    due_date     TEXT,
    state        TEXT NOT NULL DEFAULT 'proposta'
                 CHECK (state IN ('proposta', 'avviata', 'completata', 'abbandonata')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    completed_at TEXT
) STRICT;
CREATE INDEX improvement_actions_due ON improvement_actions(due_date)
    WHERE state IN ('proposta', 'avviata');
CREATE TABLE improvement_action_tickets (
    action_id INTEGER NOT NULL REFERENCES improvement_actions(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    PRIMARY KEY (action_id, ticket_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE improvement_action_categories (
    action_id   INTEGER NOT NULL REFERENCES improvement_actions(id),
    category_id INTEGER NOT NULL REFERENCES categories(id),
    PRIMARY KEY (action_id, category_id)
) STRICT, WITHOUT ROWID;

-- The region's code of a category (a sub-category without one takes its macro-category's).
-- The default: the Agenas macro-categories (1 tecnico-professionali, 2 umanizzazione e aspetti
-- relazionali, 3 informazione, 4 tempi, 5 alberghieri e comfort, 6 struttura e logistica,
-- 7 burocratico-amministrativi e organizzativi, 8 altro).
CREATE TABLE regional_codes (
    category_id INTEGER PRIMARY KEY REFERENCES categories(id),
    code        TEXT NOT NULL
) STRICT;
INSERT INTO regional_codes (category_id, code)
SELECT c.id, m.code FROM categories c JOIN (
    SELECT 'TEC' AS macro, '1' AS code
    UNION ALL SELECT 'REL', '2' UNION ALL SELECT 'UMA', '2' UNION ALL SELECT 'INF', '3'
    UNION ALL SELECT 'TEM', '4' UNION ALL SELECT 'ALB', '5' UNION ALL SELECT 'STR', '6'
    UNION ALL SELECT 'BUR', '7' UNION ALL SELECT 'ALT', '8'
) m ON m.macro = c.code WHERE c.parent_id IS NULL;

-- The clinical-risk office's mail ('risk_alert') needs no change to the outbox: migration 12
-- took the list of kinds out of its CHECK.

-- migration 14

-- An answer whose form arrived after its session had ended (issue 18): kept for its author and
-- its ticket, put back in the answer form after signing in again, forgotten once the answer is
-- sent (or the ticket anonymised). It holds what an operator wrote to a citizen.
CREATE TABLE kept_answers (
    user_id   INTEGER NOT NULL REFERENCES users(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    body      TEXT NOT NULL,
    saved_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, ticket_id)
) STRICT;
CREATE INDEX kept_answers_ticket ON kept_answers(ticket_id);
