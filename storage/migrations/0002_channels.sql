-- Payment channels (issue 4), one row per (peer, direction, channel). Token amounts are wei
-- (or token base units) as decimal strings: they exceed 64 bits.
CREATE TABLE channels (
    peer        TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel_id  TEXT NOT NULL,
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
