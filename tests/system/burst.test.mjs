// Issue 10: paid delivery under a burst. Five real btpnips processes on a line
//   F3 — M2 — M1 — P — F1
// (each bootstraps from its left neighbour; libp2p links follow the bootstrap line). P's owner
// publishes BURST_EVENTS kind-1 notes as fast as its nostr-tools client can (a window of
// BURST_WINDOW in flight). F1 follows P one hop away; F3 follows P three hops away, through two
// btpnips nodes that each take their fee. Both followers' own clients must receive every note
// exactly once, no subscription may close, every node's balance must be exact, and the
// network's balances must sum to zero. Then M1 follows P late and catches up on every stored
// note, a replay that runs far ahead of its payments (flow control: pause, resume).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, startLine, stopAll } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const EVENTS = Number(process.env.BURST_EVENTS ?? 10000)
const WINDOW = Number(process.env.BURST_WINDOW ?? 16)
const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 1000 }
const FEE = { fixed: 2, basis_points: 0 }
const NAMES = ['F3', 'M2', 'M1', 'P', 'F1']
const keys = NAMES.map(() => generateSecretKey())
const pubs = keys.map((k) => getPublicKey(k))
const nodes = NAMES.map((name, i) => new NodeProcess(name, {
  secretHex: bytesToHex(keys[i]),
  config: {
    prices: PRICES,
    fee: FEE,
    p2p: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], kad_query_interval_secs: 2, announce_interval_secs: 30 }
  }
}))
const [F3, M2, M1, P, F1] = [0, 1, 2, 3, 4]
const clients = []
const received = {} // follower index → Map(id → count)
const closed = {} // follower index → CLOSED reasons seen by its client

after(async () => {
  for (const c of clients) c.close()
  await stopAll(nodes)
})

/** Node `f`'s owner opens a client on its own node, watches P's notes, and follows P (Kind 3). */
async function follow (f) {
  const c = await Relay.connect(nodes[f].relayUrl)
  clients.push(c)
  received[f] = new Map()
  closed[f] = []
  c.subscribe([{ kinds: [1], authors: [pubs[P]] }], {
    onevent: (e) => received[f].set(e.id, (received[f].get(e.id) ?? 0) + 1),
    onclose: (reason) => closed[f].push(reason)
  })
  await c.publish(finalizeEvent({ kind: 3, created_at: now(), tags: [['p', pubs[P]]], content: '' }, keys[f]))
}

const balance = (status) => status.accounts.reduce((sum, a) => sum + a.balance, 0)
const now = () => Math.floor(Date.now() / 1000)

test('five nodes on a line; F1 (1 hop) and F3 (3 hops) follow P', async () => {
  await startLine(nodes, pubs)
  for (const f of [F1, F3]) {
    await follow(f)
    await eventually(async () => (await nodes[f].status()).subscriptions.some((s) =>
      s.direction === 'outbound' && s.peer === pubs[P] && s.status === 'active'), { what: `${NAMES[f]}'s subscription to P`, timeoutMs: 60000 })
  }
})

const published = []

test(`P's client publishes ${EVENTS} notes with ${WINDOW} in flight; both followers get every one exactly once`, async (t) => {
  const c = await Relay.connect(nodes[P].relayUrl)
  clients.push(c)
  const t0 = Date.now()
  let next = 0
  const base = now() - 3600 // older than now: many notes share a second, as in a thread import
  async function worker () {
    while (next < EVENTS) {
      const i = next++
      const e = finalizeEvent({ kind: 1, created_at: base + Math.floor(i / 100), tags: [], content: `burst ${i}` }, keys[P])
      published.push(e.id)
      await c.publish(e)
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, worker))
  const publishMs = Date.now() - t0
  t.diagnostic(`P stored ${EVENTS} notes in ${publishMs} ms (${Math.round(EVENTS / publishMs * 1000)} events/s from its client)`)
  for (const f of [F1, F3]) {
    await eventually(() => published.every((id) => received[f].has(id)),
      { what: `${NAMES[f]} to receive all ${EVENTS} (has ${received[f].size})`, timeoutMs: 600000, intervalMs: 500 })
    const ms = Date.now() - t0
    t.diagnostic(`${NAMES[f]} received all ${EVENTS} ${ms} ms after the first publish (${Math.round(EVENTS / ms * 1000)} paid events/s end to end)`)
  }
  for (const f of [F1, F3]) {
    for (const id of published) assert.equal(received[f].get(id), 1, `${NAMES[f]} got ${id} once`)
    assert.deepEqual(closed[f], [], `${NAMES[f]}'s client saw no CLOSED`)
  }
})

test('a late follower catches up on all of them at full speed (replay outruns its payments; delivery pauses and resumes)', async (t) => {
  // M1, one hop from P, follows only now: P replays every stored note in batches, much faster
  // than notes were published, so delivery reaches the credit and waits for M1's payments.
  const t0 = Date.now()
  await follow(M1)
  await eventually(() => published.every((id) => received[M1].has(id)),
    { what: `M1 to catch up on all ${EVENTS} (has ${received[M1].size})`, timeoutMs: 600000, intervalMs: 500 })
  const ms = Date.now() - t0
  t.diagnostic(`M1 caught up on ${EVENTS} stored notes in ${ms} ms (${Math.round(EVENTS / ms * 1000)} paid events/s, replay)`)
  for (const id of published) assert.equal(received[M1].get(id), 1, `M1 got ${id} once`)
  assert.deepEqual(closed[M1], [], "M1's client saw no CLOSED")
})

test('no subscription closed; every balance is exact and the network sums to zero', async (t) => {
  // Payments for the last deliveries may still be in flight: wait until two reads agree.
  let last = null
  const statuses = await eventually(async () => {
    const cur = await Promise.all(nodes.map((n) => n.status()))
    const totals = cur.map(balance)
    const same = last && totals.every((v, i) => v === last[i])
    last = totals
    return same && cur
  }, { what: 'balances to settle', intervalMs: 1500, timeoutMs: 60000 })
  const totals = statuses.map(balance)
  t.diagnostic(`balances: ${NAMES.map((n, i) => `${n}=${totals[i]}`).join(' ')}`)
  for (const s of statuses) {
    for (const sub of s.subscriptions) assert.equal(sub.status, 'active', `${s.node.pubkey.slice(0, 8)} ${sub.direction} ${sub.status}`)
  }
  const price = PRICES.subscription + EVENTS * PRICES.event_delivered
  for (const f of [F1, F3, M1]) {
    const sub = statuses[P].subscriptions.find((x) => x.direction === 'inbound' && x.peer === pubs[f])
    assert.equal(sub.events_delivered, EVENTS, `P delivered ${EVENTS} to ${NAMES[f]}`)
    assert.equal(sub.amount_paid, price, `P got exactly its prices from ${NAMES[f]}`)
    const out = statuses[f].subscriptions.find((x) => x.direction === 'outbound' && x.peer === pubs[P])
    assert.equal(out.amount_paid, price, `${NAMES[f]} paid exactly the prices`)
  }
  assert.equal(totals[P], 3 * price, 'P earned its three followers\' prices')
  assert.equal(totals[F1], -price, 'F1 (1 hop) paid the prices, no fees')
  // F3's paid packets (the REQ and the aggregated payments) each paid both connectors' fee.
  const fees = totals[M2]
  assert.ok(fees > 0 && fees % FEE.fixed === 0, `M2 earned fees: ${fees}`)
  assert.equal(totals[M1], fees - price, 'M1 earned the same fees and paid the prices as a follower')
  assert.equal(totals[F3], -(price + 2 * fees), 'F3 paid the prices and every hop\'s fee')
  assert.equal(totals.reduce((a, b) => a + b, 0), 0, 'balances sum to zero')
  t.diagnostic(`F3's paid packets: ${fees / FEE.fixed} (1 REQ + aggregated payments) for ${EVENTS} events`)
})
