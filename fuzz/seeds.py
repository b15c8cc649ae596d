#!/usr/bin/env python3
"""Write the seed corpora of the `stream_receiver` and `btpnips_messages` targets.

    python3 fuzz/seeds.py        # rewrites fuzz/corpus/{stream_receiver,btpnips_messages}/

Encodings follow protocol/src/stream (RFC 29 §5.2-§5.3, OER var-uints and var-octets) and
docs/btp-nips.md §3 (each message an OER var-octet-string). Envelopes use the `stream_decrypt`
key (shared secret 32 x 07, AES-256-GCM, `IV | tag | ciphertext`, RFC 29 §5.1); they need the
`cryptography` package. The input layouts are described at the top of each target.
"""
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def var_octets(b: bytes) -> bytes:
    n = len(b)
    if n < 128:
        return bytes([n]) + b
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(length)]) + length + b


def var_uint(v: int) -> bytes:
    return var_octets(v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big"))


def frame(kind: int, contents: bytes) -> bytes:
    return bytes([kind]) + var_octets(contents)


def stream_data(sid, off, data):
    return frame(0x14, var_uint(sid) + var_uint(off) + var_octets(data))


def stream_money(sid, shares):
    return frame(0x11, var_uint(sid) + var_uint(shares))


def stream_close(sid, code, msg):
    return frame(0x10, var_uint(sid) + bytes([code]) + var_octets(msg.encode()))


def stream_data_blocked(sid, off):
    return frame(0x16, var_uint(sid) + var_uint(off))


def connection_close(code, msg):
    return frame(0x01, bytes([code]) + var_octets(msg.encode()))


def packet(seq, prepare_amount, frames, kind=12):
    return bytes([1, kind]) + var_uint(seq) + var_uint(prepare_amount) + var_uint(len(frames)) + b"".join(frames)


def envelope(plaintext: bytes, iv: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = hmac.new(bytes([7] * 32), b"ilp_stream_encryption", hashlib.sha256).digest()
    sealed = AESGCM(key).encrypt(iv, plaintext, None)  # ciphertext | tag
    return iv + sealed[-16:] + sealed[:-16]


def record(body: bytes, amount=0, refuse=False, timeout=False) -> bytes:
    flags = (1 if refuse else 0) | (2 if timeout else 0)
    return struct.pack(">HBQ", len(body), flags, amount) + body


def msg(text: str) -> bytes:
    return var_octets(text.encode())


EVENT = {
    "id": "36d88cf5fcc449f2390a424907023eda7a74278120eebab8d02797cd92e7e29c",
    "pubkey": "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    "created_at": 1699485669,
    "kind": 1,
    "tags": [["e", "aec4de6d051a7c2b6ca2d087903d42051a31e07fb742f1240970084822de10a6"], ["t", "x"]],
    "content": "hello from the nostr army knife",
    "sig": "68e71a192e8abcf8582a222434ac823ecc50607450ebe8cc4c145eb047794cc382dc3f888ce879d2f404f5ba6085a47601360a0fa2dd4b50d317bd0c6197c2c2",
}
J = lambda v: json.dumps(v, separators=(",", ":"))
REQ = J(["REQ", "btpnips-00", {"kinds": [1], "limit": 10}])
RELAY_EVENT = J(["EVENT", "btpnips-00", EVENT])
EOSE = J(["EOSE", "btpnips-00"])
ACCOUNT = J(["ACCOUNT", "btpnips-00", {"periods_paid": 1, "events_delivered": 250, "amount_paid": 3400, "owed": 100}])


def stream_receiver():
    out = {}
    wire = msg(REQ) + msg(RELAY_EVENT) + msg(EOSE)
    a, b = wire[:40], wire[40:]
    # BTP-NIPs: a paid REQ then the rest of the stream, in order.
    out["framed_in_order"] = bytes([1]) + record(packet(1, 100, [stream_money(1, 1), stream_data(1, 0, a)]), 100) + record(
        packet(2, 0, [stream_data(1, len(a), b)])
    )
    # BTP-NIPs: the second packet overtakes the first (parked until the gap fills).
    out["framed_parked"] = bytes([1]) + record(packet(2, 0, [stream_data(1, len(a), b)])) + record(
        packet(1, 0, [stream_data(1, 0, a)])
    )
    # BTP-NIPs: a parked packet times out (R00), the application refuses one, then all arrive.
    out["framed_timeout_refused"] = (
        bytes([1])
        + record(packet(2, 0, [stream_data(1, len(a), b)]))
        + record(packet(1, 0, [stream_data(1, 0, a)]), timeout=True)
        + record(packet(3, 0, [stream_data(1, len(a), b)]), refuse=True)
        + record(packet(4, 0, [stream_data(1, len(a), b), stream_data_blocked(1, len(wire))]))
    )
    # BTP-NIPs: an ACCOUNT and a StreamClose on a second stream, then the sender closes.
    acc = msg(ACCOUNT)
    out["framed_close"] = bytes([1]) + record(packet(1, 7, [stream_money(3, 2), stream_money(5, 1), stream_data(3, 0, acc)]), 9) + record(
        packet(2, 0, [stream_close(3, 0, ""), connection_close(0, "bye")])
    )
    # SPSP: raw data out of order on two streams, money split 2:1.
    out["raw_out_of_order"] = (
        bytes([0])
        + record(packet(1, 3, [stream_money(1, 2), stream_money(3, 1), stream_data(1, 5, b" world"), stream_data(3, 3, b"def")]), 10)
        + record(packet(2, 0, [stream_data(1, 0, b"hello"), stream_data(3, 0, b"abc")]))
    )
    # SPSP: an out-of-order packet sent twice (its Fulfill was lost), then the gap fills.
    resend = packet(2, 0, [stream_data(1, 5, b"0123456789")])
    out["raw_resent_out_of_order"] = bytes([0]) + record(resend) + record(resend) + record(packet(1, 0, [stream_data(1, 0, b"abcde")]))
    # Violations: the server's parity, data over the window, money without StreamMoney.
    out["violations"] = (
        bytes([0])
        + record(packet(1, 0, [stream_data(2, 0, b"x")]))
        + record(packet(2, 0, [stream_data(1, 512 * 1024, b"x")]))
        + record(packet(3, 0, [stream_data(1, 0, b"x")]), 5)
        + record(packet(4, 5, [stream_money(1, 1)]), 4)
        + record(packet(5, 0, [stream_data(1, 0, b"ok")], kind=13))
    )
    # Envelopes, decrypted as the node does (one of them tampered).
    e1 = envelope(packet(1, 50, [stream_money(1, 1), stream_data(1, 0, a)]), bytes(range(12)))
    e2 = envelope(packet(2, 0, [stream_data(1, len(a), b)]), bytes(range(1, 13)))
    bad = bytearray(e2)
    bad[20] ^= 1
    out["framed_envelopes"] = bytes([3]) + record(e1, 50) + record(bytes(bad)) + record(e2)
    return out


def btpnips_messages():
    client_event = J(["EVENT", EVENT])
    texts = [
        REQ,
        client_event,
        J(["CLOSE", "btpnips-00"]),
        RELAY_EVENT,
        J(["OK", EVENT["id"], True, ""]),
        EOSE,
        J(["CLOSED", "btpnips-00", "error: shutting down"]),
        J(["NOTICE", "hi"]),
        ACCOUNT,
    ]
    out = {}
    cuts = lambda *p: bytes([len(p)]) + b"".join(struct.pack(">H", x) for x in p)
    out["subscriber_side"] = cuts() + b"".join(msg(t) for t in texts[3:])
    out["publisher_side_cut"] = cuts(1, 30, 31, 200) + b"".join(msg(t) for t in texts[:3])
    out["every_kind_cut"] = cuts(0, 5, 77, 300, 301, 900) + b"".join(msg(t) for t in texts)
    out["account_bad_figures"] = cuts(3) + msg(J(["ACCOUNT", "x", {"periods_paid": -1}])) + msg(J(["ACCOUNT", "y"]))
    out["not_messages"] = cuts(2) + msg("[]") + msg('["EVENT"]') + msg("{}") + msg('"x"') + msg('["REQ","s"]')
    out["long_then_bad_utf8"] = cuts(130) + msg(J(["NOTICE", "x" * 200])) + bytes([2, 0xFF, 0xFE])
    return out


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("stream_receiver", stream_receiver())
    write("btpnips_messages", btpnips_messages())
