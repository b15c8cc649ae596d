// Issue 10 (5c): the follower's node is killed (SIGKILL) in the middle of a paid burst and
// restarted. Two real btpnips processes, P — F (F bootstraps from P). P's owner publishes
// CRASH_EVENTS kind-1 notes (many share a second); F follows P. When F's client has seen about a
// third of them, F's process is killed without a goodbye, and started again on the same data
// directory. F must end with exactly the published notes (none lost at the second it resumes
// from, none twice), and P must have counted and been paid for each exactly once: F resumes
// from the second of its newest note, P skips what it delivered in that second, and P's
// ["ACCOUNT", …] tells the restarted F what it still owed from before the crash.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, sleep, startLine, stopAll } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const EVENTS = Number(process.env.CRASH_EVENTS ?? 10000)
const WINDOW = 16
const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 1000 }
const NAMES = ['P', 'F']
const keys = NAMES.map(() => generateSecretKey())
const pubs = keys.map((k) => getPublicKey(k))
const nodes = NAMES.map((name, i) => new NodeProcess(name, {
  secretHex: bytesToHex(keys[i]),
  config: { prices: PRICES, p2p: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], kad_query_interval_secs: 2 } }
}))
const [P, F] = [0, 1]
const clients = []
const now = () => Math.floor(Date.now() / 1000)

after(async () => {
  for (const c of clients) c.close()
  await stopAll(nodes)
})

/** Every kind-1 id of `author` stored at `url`, read in pages of `limit` going back in time. */
async function storedIds (url, author, limit = 2000) {
  const ids = new Set()
  let until
  for (;;) {
    const page = await new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      const got = []
      ws.on('open', () => ws.send(JSON.stringify(['REQ', 'page', { kinds: [1], authors: [author], limit, ...(until ? { until } : {}) }])))
      ws.on('message', (d) => {
        const m = JSON.parse(d)
        if (m[0] === 'EVENT') got.push(m[2])
        if (m[0] === 'EOSE' || m[0] === 'CLOSED') { ws.close(); resolve(got) }
      })
      ws.on('error', reject)
    })
    const before = ids.size
    for (const e of page) ids.add(e.id)
    if (page.length < limit || ids.size === before) return ids
    until = Math.min(...page.map((e) => e.created_at)) // the boundary second is read again
  }
}

const published = []
const seenBeforeCrash = new Set()
let crashedAt = 0

test('P and F linked; F follows P', async () => {
  await startLine(nodes, pubs)
  const c = await Relay.connect(nodes[F].relayUrl)
  clients.push(c)
  c.subscribe([{ kinds: [1], authors: [pubs[P]] }], { onevent: (e) => seenBeforeCrash.add(e.id) })
  await c.publish(finalizeEvent({ kind: 3, created_at: now(), tags: [['p', pubs[P]]], content: '' }, keys[F]))
  await eventually(async () => (await nodes[F].status()).subscriptions.some((s) =>
    s.direction === 'outbound' && s.peer === pubs[P] && s.status === 'active'), { what: "F's subscription to P", timeoutMs: 60000 })
})

test(`P publishes ${EVENTS} notes; F is killed (SIGKILL) a third of the way and restarted`, async (t) => {
  const c = await Relay.connect(nodes[P].relayUrl)
  clients.push(c)
  let next = 0
  const base = now() - 3600
  async function worker () {
    while (next < EVENTS) {
      const i = next++
      const e = finalizeEvent({ kind: 1, created_at: base + Math.floor(i / 100), tags: [], content: `crash ${i}` }, keys[P])
      published.push(e.id)
      await c.publish(e)
    }
  }
  const publishing = Promise.all(Array.from({ length: WINDOW }, worker))
  await eventually(() => seenBeforeCrash.size >= EVENTS / 3, { what: 'F to receive a third', timeoutMs: 600000, intervalMs: 50 })
  await nodes[F].kill()
  crashedAt = seenBeforeCrash.size
  t.diagnostic(`F killed after its client saw ${crashedAt} notes (P's client had published ${next})`)
  await sleep(500)
  await nodes[F].start()
  await publishing
  t.diagnostic(`P stored all ${EVENTS}`)
})

test('F ends with exactly the published notes, each delivered and paid for once', async (t) => {
  const want = new Set(published)
  let have = new Set()
  await eventually(async () => {
    have = await storedIds(nodes[F].relayUrl, pubs[P])
    return have.size >= want.size
  }, { what: `F to store all ${EVENTS} (has ${have.size})`, timeoutMs: 600000, intervalMs: 2000 })
  assert.equal(have.size, want.size, 'no note more than published')
  for (const id of want) assert.ok(have.has(id), `F stored ${id}`)
  // Payments for the last deliveries may still be in flight: wait until two reads agree.
  const price = PRICES.subscription + EVENTS * PRICES.event_delivered
  let last = null
  const [sp, sf] = await eventually(async () => {
    const cur = await Promise.all(nodes.map((n) => n.status()))
    const paid = cur[P].subscriptions.find((x) => x.direction === 'inbound' && x.peer === pubs[F])?.amount_paid
    const same = last === paid && paid >= price
    last = paid
    return same && cur
  }, { what: 'payments to settle', intervalMs: 1500, timeoutMs: 60000 })
  const inbound = sp.subscriptions.find((x) => x.direction === 'inbound' && x.peer === pubs[F])
  const outbound = sf.subscriptions.find((x) => x.direction === 'outbound' && x.peer === pubs[P])
  const ledger = (s) => s.accounts.reduce((sum, a) => sum + a.balance, 0)
  t.diagnostic(`P counted ${inbound.events_delivered} delivered, was paid ${inbound.amount_paid} (expected ${price}); F's record says paid ${outbound.amount_paid}; ledgers P=${ledger(sp)} F=${ledger(sf)}`)
  assert.equal(inbound.events_delivered, EVENTS, 'P counted each note delivered once')
  assert.equal(inbound.amount_paid, price, 'P was paid for each note once')
  assert.equal(outbound.amount_paid, price, "F's own record agrees")
  assert.equal(ledger(sp), price, "P's ledger holds exactly the prices")
  assert.equal(inbound.status, 'active')
  assert.equal(outbound.status, 'active')
})
