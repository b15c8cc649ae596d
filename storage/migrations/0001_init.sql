-- btpnips storage schema, version 1 (SQLite).
--
-- Conventions, chosen so a PostgreSQL twin of this file needs only the rowid column changed:
-- every integer column is BIGINT (bound as i64), times are unix seconds, amounts are in the
-- account's asset units at its asset scale, and no SQLite-only syntax is used except
-- `INTEGER PRIMARY KEY` (the rowid alias) for ledger_entries.seq.

-- Nostr events (NIP-01). `raw` is the event JSON; the other columns are copies for indexing.
-- `d_tag` is the first `d` tag value ('' if none) for addressable kinds, NULL otherwise.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    pubkey     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    kind       BIGINT NOT NULL,
    d_tag      TEXT,
    raw        TEXT NOT NULL
);
CREATE INDEX events_pubkey_kind ON events (pubkey, kind);
CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX events_kind ON events (kind);

-- Single-character tags of each event (name = the tag letter, value = its first value),
-- the index behind `#x` filters.
CREATE TABLE event_tags (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (event_id, name, value)
);
CREATE INDEX event_tags_name_value ON event_tags (name, value);

-- Balances per account (signed, asset units at asset_scale).
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    asset_code  TEXT NOT NULL,
    asset_scale BIGINT NOT NULL CHECK (asset_scale BETWEEN 0 AND 255),
    balance     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Append-only journal of balance changes; (account, reference) makes each one idempotent.
CREATE TABLE ledger_entries (
    seq           INTEGER PRIMARY KEY,
    account       TEXT NOT NULL REFERENCES accounts (id),
    asset_code    TEXT NOT NULL,
    asset_scale   BIGINT NOT NULL,
    delta         BIGINT NOT NULL,
    reference     TEXT NOT NULL,
    memo          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    UNIQUE (account, reference)
);

-- Paid subscriptions in both directions. `filters` is a JSON array of NIP-01 filters.
CREATE TABLE subscriptions (
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    peer             TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    filters          TEXT NOT NULL,
    stream_id        BIGINT NOT NULL,
    amount_paid      BIGINT NOT NULL,
    events_delivered BIGINT NOT NULL,
    paid_until       BIGINT NOT NULL,
    periods_paid     BIGINT NOT NULL,
    status           TEXT NOT NULL,
    revision         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (direction, peer, subscription_id)
);

-- Known peers. `prices` is a JSON document.
CREATE TABLE peers (
    account_id  TEXT PRIMARY KEY,
    pubkey      TEXT NOT NULL,
    ilp_address TEXT NOT NULL,
    url         TEXT,
    asset_code  TEXT NOT NULL,
    asset_scale BIGINT NOT NULL CHECK (asset_scale BETWEEN 0 AND 255),
    prices      TEXT NOT NULL,
    last_seen   BIGINT NOT NULL
);

-- Small key/value settings of the node.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
