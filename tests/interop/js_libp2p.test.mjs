// A third-party libp2p implementation against our peer network (docs/btp-nips.md §8–§9):
// js-libp2p 3 with its QUIC transport (@chainsafe/libp2p-quic) and a secp256k1 key of its own
// dials our node. The QUIC/TLS handshake proves both PeerIds; identify and ping work both
// ways; over `/btpnips/nostr/1.0.0` (4-byte big-endian length, then NIP-01 JSON) it sends
// its own signed Kind 32001 announcement, which our node verifies, answers `OK true` and
// takes into its directory; a forged and a mis-bound one get `OK false "invalid: …"`. Our
// node in turn sends the JS peer its own announcement, which verifies with nostr-tools.
import './polyfill.mjs'
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { quic } from '@chainsafe/libp2p-quic'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { finalizeEvent, verifyEvent } from 'nostr-tools/pure'
import { NodeProcess, eventually, stopAll } from '../system/lib/harness.mjs'

const PROTO = '/btpnips/nostr/1.0.0'
const ours = new NodeProcess('btpnips', {})
let js
after(async () => { await js?.stop(); await stopAll([ours]) })

const hex = (b) => Buffer.from(b).toString('hex')
function frame (message) {
  const body = Buffer.from(JSON.stringify(message))
  const out = Buffer.alloc(4 + body.length)
  out.writeUInt32BE(body.length, 0)
  body.copy(out, 4)
  return out
}
async function readFrame (stream) {
  let buf = Buffer.alloc(0)
  for await (const chunk of stream) {
    buf = Buffer.concat([buf, Buffer.from(chunk.subarray())])
    if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) return JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString())
  }
  throw new Error(`stream ended after ${buf.length} bytes`)
}
async function request (addr, message) {
  const stream = await js.dialProtocol(addr, PROTO)
  stream.send(frame(message))
  await stream.close()
  return readFrame(stream)
}

test('js-libp2p (QUIC, secp256k1) links up with our node: identify, ping, Kind 32001 both ways', async (t) => {
  await ours.start()
  const status0 = await ours.status()
  const ourAddr = multiaddr(ours.p2pAddrs[0])

  const privateKey = await generateKeyPair('secp256k1')
  const nostrSecret = privateKey.raw // the same 32-byte scalar: one key, as our nodes use it
  const jsPubkey = hex(privateKey.publicKey.raw.subarray(1)) // x coordinate of the compressed key
  const received = []
  js = await createLibp2p({
    privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] },
    transports: [quic()],
    services: { identify: identify(), ping: ping() }
  })
  await js.handle(PROTO, async (stream) => {
    const message = await readFrame(stream)
    received.push(message)
    stream.send(frame(['OK', message[1]?.id ?? '', true, '']))
    await stream.close()
  })

  const t0 = Date.now()
  const conn = await js.dial(ourAddr)
  t.diagnostic(`QUIC connection up in ${Date.now() - t0} ms`)
  assert.equal(conn.remotePeer.toString(), ours.peerId, 'the handshake proved our PeerId')
  assert.equal(status0.node.peer_id, ours.peerId)
  await eventually(async () => (await ours.status()).p2p.connected.includes(jsPubkey), { what: 'our node to see the JS peer by its Nostr pubkey' })

  const rtt = await js.services.ping.ping(ourAddr)
  t.diagnostic(`ping RTT ${rtt} ms`)
  await eventually(async () => (await js.peerStore.get(conn.remotePeer)).protocols.includes(PROTO), { what: 'identify to report our protocols' })
  const peer = await js.peerStore.get(conn.remotePeer)
  for (const p of ['/btpnips/nostr/1.0.0', '/btpnips/btp/1.0.0', '/ipfs/ping/1.0.0']) assert.ok(peer.protocols.includes(p), p)
  assert.match(Buffer.from(peer.metadata.get('AgentVersion')).toString(), /^btpnips\//)

  // Our node sends newly connected peers every announcement it holds: its own among them.
  await eventually(() => received.some((m) => m[0] === 'EVENT' && m[1].pubkey === status0.node.pubkey), { what: "our node's announcement to reach the JS peer" })
  const theirs = received.find((m) => m[1].pubkey === status0.node.pubkey)[1]
  assert.equal(theirs.kind, 32001)
  assert.ok(verifyEvent(theirs), 'our announcement verifies with nostr-tools')
  assert.ok(theirs.tags.some((tg) => tg[0] === 'multiaddr' && tg[1].endsWith(`/p2p/${ours.peerId}`)))

  // The JS peer announces itself (§8), bound to its own PeerId.
  const now = Math.floor(Date.now() / 1000)
  const jsAddr = `${js.getMultiaddrs()[0].toString()}`
  assert.ok(jsAddr.endsWith(`/p2p/${js.peerId.toString()}`), jsAddr)
  const info = {
    version: 1,
    pubkey: jsPubkey,
    ilp_address: `test.btpnips.${jsPubkey.slice(0, 16)}`,
    asset_code: 'ETH',
    asset_scale: 9,
    prices: { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 100 }
  }
  const announce = (created, addr) => finalizeEvent({
    kind: 32001,
    created_at: created,
    tags: [['d', 'btpnips-node'], ['ilp', info.ilp_address], ['expiration', String(created + 3600)], ['multiaddr', addr]],
    content: JSON.stringify(info)
  }, nostrSecret)

  const misbound = announce(now, `/ip4/127.0.0.1/udp/9/quic-v1/p2p/${ours.peerId}`)
  const [kind0, , ok0, why0] = await request(ourAddr, ['EVENT', misbound])
  assert.deepEqual([kind0, ok0], ['OK', false])
  assert.match(why0, /^invalid: .*not the key of the author/)

  const forged = { ...announce(now, jsAddr) }
  forged.content = forged.content.replace('"subscription":1000', '"subscription":1')
  const [, , ok1, why1] = await request(ourAddr, ['EVENT', forged])
  assert.equal(ok1, false)
  assert.match(why1, /^invalid: /)

  const good = announce(now, jsAddr)
  const reply = await request(ourAddr, ['EVENT', good])
  assert.deepEqual(reply.slice(0, 3), ['OK', good.id, true])
  await eventually(async () => (await ours.status()).directory.some((d) => d.pubkey === jsPubkey && d.ilp_address === info.ilp_address), { what: "the JS peer's announcement in our directory" })
  const listed = (await ours.status()).directory.find((d) => d.pubkey === jsPubkey)
  assert.deepEqual(listed.multiaddrs, [jsAddr])
})
