// Issue 2, steps 2–5: Alice's and Bob's nodes, each used by an ordinary Nostr client
// (nostr-tools), Bob's node paying Alice's for a subscription over ILP/STREAM.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, sleep } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 100 }
const aliceSk = generateSecretKey()
const alicePk = getPublicKey(aliceSk)
const bobSk = generateSecretKey()

const alice = new NodeProcess('alice', { secretHex: bytesToHex(aliceSk), config: { prices: PRICES } })
const bob = new NodeProcess('bob', { secretHex: bytesToHex(bobSk) })
const nodes = [alice, bob]

after(async () => {
  for (const n of nodes) await n.stop()
  if (process.exitCode && process.exitCode !== 0) for (const n of nodes) console.error(`--- ${n.name} log ---\n${n.logs()}`)
  for (const n of nodes) n.cleanup()
})

const note = (content, created_at = Math.floor(Date.now() / 1000)) =>
  finalizeEvent({ kind: 1, created_at, tags: [], content }, aliceSk)

function peerOf (status, pubkey) { return status.peers.find((p) => p.pubkey === pubkey) }
function subOf (status, direction) { return status.subscriptions.find((s) => s.direction === direction) }

/** Subscribe with nostr-tools and record what arrives, in order. */
function watch (relay, filter) {
  const seen = []
  const sub = relay.subscribe([filter], {
    onevent: (e) => seen.push({ type: 'EVENT', id: e.id, content: e.content }),
    oneose: () => seen.push({ type: 'EOSE' }),
    onclose: (reason) => seen.push({ type: 'CLOSED', reason })
  })
  return { seen, sub }
}

const published = []

test('both nodes start and Bob links to Alice from his bootstrap list', async () => {
  await alice.start()
  bob.config.bootstrap = [{ url: alice.peerUrl, pubkey: alicePk }]
  await bob.start()
  assert.equal((await alice.status()).node.pubkey, alicePk, "Alice's node key is her Nostr key")
  await eventually(async () => peerOf(await bob.status(), alicePk)?.connected, { what: 'Bob → Alice link' })
  const a = await eventually(async () => peerOf(await alice.status(), getPublicKey(bobSk)), { what: 'Alice sees Bob' })
  assert.equal(a.connected, true)
  assert.equal(a.balance, 0)
})

test("a paid subscription: stored events, then EOSE, then live ones, through Bob's own node", async () => {
  const aliceClient = await Relay.connect(alice.relayUrl)
  const before = note('published before Bob subscribed', Math.floor(Date.now() / 1000) - 5)
  await aliceClient.publish(before) // resolves only on OK true, i.e. after commit
  published.push(before)

  const bobClient = await Relay.connect(bob.relayUrl)
  const { seen } = watch(bobClient, { authors: [alicePk], kinds: [1] })
  await eventually(() => seen.some((m) => m.type === 'EOSE'), { what: 'EOSE on Bob' })
  assert.deepEqual(seen, [{ type: 'EVENT', id: before.id, content: before.content }, { type: 'EOSE' }])

  for (const text of ['live one', 'live two']) {
    const e = note(text)
    await aliceClient.publish(e)
    published.push(e)
  }
  await eventually(() => seen.length === 4, { what: 'two live events on Bob' })
  assert.deepEqual(seen.slice(2).map((m) => m.content), ['live one', 'live two'])

  const expected = PRICES.subscription + published.length * PRICES.event_delivered
  const [a, b] = await eventually(async () => {
    const [a, b] = [await alice.status(), await bob.status()]
    return peerOf(a, getPublicKey(bobSk))?.balance === expected && peerOf(b, alicePk)?.balance === -expected && [a, b]
  }, { what: `balances ±${expected}` })
  const inbound = subOf(a, 'inbound')
  const outbound = subOf(b, 'outbound')
  assert.equal(inbound.amount_paid, expected)
  assert.equal(inbound.events_delivered, published.length)
  assert.equal(inbound.status, 'active')
  assert.equal(outbound.amount_paid, expected)
  assert.equal(outbound.events_delivered, published.length)
  assert.equal(outbound.peer, alicePk)
  assert.equal(b.events_stored, published.length + 1, "Bob's node stored Alice's events (and its own Kind 32001 announcement)")

  const cli = await bob.cliStatus()
  assert.equal(peerOf(cli, alicePk).balance, -expected, 'the CLI shows the same balance')
  aliceClient.close()
  bobClient.close()
})

test('balances and subscriptions survive a restart of either node, and delivery resumes', async () => {
  const expected = PRICES.subscription + published.length * PRICES.event_delivered
  for (const n of [bob, alice]) {
    await n.stop()
    await n.start()
  }
  await eventually(async () => peerOf(await bob.status(), alicePk)?.connected, { what: 'link back up' })
  assert.equal(peerOf(await alice.status(), getPublicKey(bobSk)).balance, expected)
  assert.equal(peerOf(await bob.status(), alicePk).balance, -expected)
  assert.equal(subOf(await alice.status(), 'inbound').amount_paid, expected)

  const bobClient = await Relay.connect(bob.relayUrl)
  const { seen } = watch(bobClient, { authors: [alicePk] })
  await eventually(() => seen.some((m) => m.type === 'EOSE'), { what: 'EOSE after restart' })
  assert.equal(seen.filter((m) => m.type === 'EVENT').length, published.length, 'stored events come from Bob\'s own store: ' + JSON.stringify(seen))

  const aliceClient = await Relay.connect(alice.relayUrl)
  const e = note('after both restarts')
  await aliceClient.publish(e)
  published.push(e)
  await eventually(() => seen.some((m) => m.id === e.id), { what: 'live event after restart' })
  const total = PRICES.subscription + published.length * PRICES.event_delivered
  await eventually(async () => peerOf(await alice.status(), getPublicKey(bobSk))?.balance === total &&
    peerOf(await bob.status(), alicePk)?.balance === -total, { what: `balances ±${total}: the resumed subscription was not charged again` })
  aliceClient.close()
  bobClient.close()
})

/** Send raw frames with a plain WebSocket and collect the replies. */
async function raw (url, frames, expectReplies) {
  const ws = new WebSocket(url)
  const replies = []
  ws.on('message', (d) => replies.push(JSON.parse(d.toString())))
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  for (const f of frames) ws.send(f)
  await eventually(() => replies.length >= expectReplies, { what: `${expectReplies} replies` })
  await sleep(100)
  ws.close()
  return replies
}

test('malformed client messages get NOTICE / OK false / CLOSED with machine-readable prefixes, and lose nothing', async () => {
  const forged = { ...note('forged'), content: 'tampered after signing' }
  const badSig = { ...note('bad sig') }
  badSig.sig = badSig.sig.slice(0, -2) + (badSig.sig.endsWith('00') ? '11' : '00')
  const replies = await raw(bob.relayUrl, [
    'not json',
    JSON.stringify(['EVENT', forged]),
    JSON.stringify(['EVENT', badSig]),
    JSON.stringify(['REQ', 'x', { kinds: 'one' }]),
    JSON.stringify(['REQ', 'y']),
    JSON.stringify(['WHAT'])
  ], 6)
  assert.equal(replies[0][0], 'NOTICE'); assert.match(replies[0][1], /^invalid: /)
  assert.deepEqual(replies[1].slice(0, 3), ['OK', forged.id, false]); assert.match(replies[1][3], /^invalid: /)
  assert.deepEqual(replies[2].slice(0, 3), ['OK', badSig.id, false]); assert.match(replies[2][3], /^invalid: /)
  assert.deepEqual(replies[3].slice(0, 2), ['CLOSED', 'x']); assert.match(replies[3][2], /^invalid: /)
  assert.deepEqual(replies[4].slice(0, 2), ['CLOSED', 'y']); assert.match(replies[4][2], /^invalid: /)
  assert.equal(replies[5][0], 'NOTICE')

  const bobClient = await Relay.connect(bob.relayUrl)
  const { seen } = watch(bobClient, { authors: [alicePk] })
  await eventually(() => seen.some((m) => m.type === 'EOSE'), { what: 'EOSE' })
  const ids = seen.filter((m) => m.type === 'EVENT').map((m) => m.id).sort()
  assert.deepEqual(ids, published.map((e) => e.id).sort(), 'everything accepted before is still there; nothing forged was stored')
  bobClient.close()
})

test('NIP-11 document on the relay port', async () => {
  const res = await fetch(`http://${bob.listen.relay}/`, { headers: { Accept: 'application/nostr+json' } })
  assert.equal(res.headers.get('content-type'), 'application/nostr+json')
  const doc = await res.json()
  assert.deepEqual(doc.supported_nips, [1, 11])
  assert.equal(doc.pubkey, getPublicKey(bobSk))
  const unauthorized = await fetch(`http://${bob.listen.api}/api/status`)
  assert.equal(unauthorized.status, 401, 'the operator API needs the bearer token')
})
