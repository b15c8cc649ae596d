-- btpnips storage schema, version 1 (PostgreSQL): the same tables as the SQLite schema
-- (storage/migrations, after its four migrations), with binary ids and pubkeys for events and
-- their tags, after nostream and nostr-rs-relay's Postgres repository.
--
-- Text keys are COLLATE "C" (byte order), so ORDER BY gives SQLite's order whatever the
-- database's locale. Integers are BIGINT (bound as i64), times unix seconds, amounts in the
-- account's asset units at its asset scale.

-- Nostr events (NIP-01). `raw` is the event JSON; the other columns are copies for indexing.
-- `d_tag` is the first `d` tag value ('' if none) for addressable kinds, NULL otherwise.
CREATE TABLE events (
    id         BYTEA PRIMARY KEY CHECK (length(id) = 32),
    pubkey     BYTEA NOT NULL CHECK (length(pubkey) = 32),
    created_at BIGINT NOT NULL,
    kind       BIGINT NOT NULL,
    d_tag      TEXT COLLATE "C",
    raw        TEXT NOT NULL
);
-- One index per main filter shape, in REQ result order (newest first).
CREATE INDEX events_time ON events (created_at DESC);
CREATE INDEX events_kind_time ON events (kind, created_at DESC);
CREATE INDEX events_pubkey_time ON events (pubkey, created_at DESC);
CREATE INDEX events_pubkey_kind_time ON events (pubkey, kind, created_at DESC);
-- NIP-01: at most one replaceable event per (pubkey, kind) and one addressable event per
-- (pubkey, kind, d tag); the writer keeps the newest, these make any slip an error.
CREATE UNIQUE INDEX events_replaceable ON events (pubkey, kind)
    WHERE kind IN (0, 3) OR kind BETWEEN 10000 AND 19999;
CREATE UNIQUE INDEX events_addressable ON events (pubkey, kind, d_tag)
    WHERE kind BETWEEN 30000 AND 39999;

-- Single-character tags of each event (name = the tag letter, value = its first value), with
-- the event's created_at so `#x` filters read their newest matches from the index.
CREATE TABLE event_tags (
    event_id   BYTEA NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, name, value)
);
CREATE INDEX event_tags_lookup ON event_tags (name, value, created_at DESC);

-- Balances per account (signed, asset units at asset_scale).
CREATE TABLE accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    asset_code  TEXT NOT NULL,
    asset_scale BIGINT NOT NULL CHECK (asset_scale BETWEEN 0 AND 255),
    balance     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Append-only journal of balance changes; (account, reference) makes each one idempotent.
CREATE TABLE ledger_entries (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account       TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    asset_code    TEXT NOT NULL,
    asset_scale   BIGINT NOT NULL,
    delta         BIGINT NOT NULL,
    reference     TEXT NOT NULL,
    memo          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    UNIQUE (account, reference)
);

-- Paid subscriptions in both directions. `filters` is a JSON array of NIP-01 filters;
-- `delivered_newest` what a publisher delivered at its newest second (JSON, '' for none).
CREATE TABLE subscriptions (
    direction        TEXT COLLATE "C" NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    peer             TEXT COLLATE "C" NOT NULL,
    subscription_id  TEXT COLLATE "C" NOT NULL,
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
    delivered_newest TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (direction, peer, subscription_id)
);

-- Known peers. `prices` is a JSON document.
CREATE TABLE peers (
    account_id  TEXT COLLATE "C" PRIMARY KEY,
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
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

-- Payment channels, one row per (peer, direction, channel). Token amounts are decimal
-- strings: they exceed 64 bits.
CREATE TABLE channels (
    peer        TEXT COLLATE "C" NOT NULL,
    direction   TEXT COLLATE "C" NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel_id  TEXT COLLATE "C" NOT NULL,
    chain_id    BIGINT NOT NULL,
    contract    TEXT NOT NULL,
    sender      TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    deposit     TEXT NOT NULL,
    expiry      BIGINT NOT NULL,
    claimed     TEXT NOT NULL,
    signature   TEXT,
    status      TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (peer, direction, channel_id)
);
