// Issue 11 (5): a network partition between two running nodes heals. P publishes, F follows P
// over a BTP/WebSocket link that runs through a TCP proxy the test controls (libp2p is off on
// both, so the proxy is the only path). The proxy then black-holes the link — connections stay
// up, nothing passes either way, as in a real partition — for PARTITION_SECS while P's client
// goes on publishing; then it heals (the connections that lived through it are closed, so both
// nodes must notice and F must redial). F's subscription must resume by itself, F's client must
// receive every event exactly once, and both nodes' books must agree: P was paid the period
// plus the per-event price for each event, once.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, sleep, stopAll, TcpProxy } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const PARTITION_SECS = Number(process.env.PARTITION_SECS ?? 20)
const BEFORE = 200
const DURING = 300
const WINDOW = 16
const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 1000 }
const procs = []
const clients = []
after(async () => { for (const c of clients) c.close(); await stopAll(procs) })

test('a partition between linked nodes heals: the subscription resumes, each missed event arrives once, books agree', async (t) => {
  const pSk = generateSecretKey(); const pPk = getPublicKey(pSk)
  const fSk = generateSecretKey(); const fPk = getPublicKey(fSk)
  const P = new NodeProcess('P', { secretHex: bytesToHex(pSk), config: { prices: PRICES, p2p: { enabled: false } } })
  procs.push(P)
  await P.start()
  const proxy = await new TcpProxy('link-proxy', Number(P.listen.peer.split(':').pop())).start()
  procs.push(proxy)
  const F = new NodeProcess('F', { secretHex: bytesToHex(fSk), config: { p2p: { enabled: false }, bootstrap: [{ url: `ws://127.0.0.1:${proxy.port}`, pubkey: pPk }] } })
  procs.push(F)
  await F.start()
  await eventually(async () => (await F.status()).peers.find((p) => p.pubkey === pPk)?.connected, { what: 'the link through the proxy' })

  const follower = await Relay.connect(F.relayUrl)
  clients.push(follower)
  const seen = new Map()
  const closed = []
  follower.subscribe([{ kinds: [1], authors: [pPk] }], {
    onevent: (e) => seen.set(e.id, (seen.get(e.id) ?? 0) + 1),
    onclose: (reason) => closed.push(reason)
  })
  await eventually(async () => (await F.status()).subscriptions.some((s) => s.direction === 'outbound' && s.peer === pPk && s.status === 'active'),
    { what: "F's paid subscription to P" })

  const publisher = await Relay.connect(P.relayUrl)
  clients.push(publisher)
  const published = []
  let n = 0
  const base = Math.floor(Date.now() / 1000) - 600
  async function publish (count) {
    const end = n + count
    const lane = async () => {
      while (n < end) {
        const i = n++
        const e = finalizeEvent({ kind: 1, created_at: base + Math.floor(i / 50), tags: [], content: `partition ${i}` }, pSk)
        published.push(e.id)
        await publisher.publish(e)
      }
    }
    await Promise.all(Array.from({ length: WINDOW }, lane))
  }

  await publish(BEFORE)
  await eventually(() => seen.size === BEFORE, { what: `F's client to see the first ${BEFORE}`, timeoutMs: 60000 })

  await proxy.cut('blackhole')
  const cutAt = Date.now()
  await publish(DURING)
  const duringPartition = seen.size
  await sleep(Math.max(0, PARTITION_SECS * 1000 - (Date.now() - cutAt)))
  t.diagnostic(`partition ${Math.round((Date.now() - cutAt) / 1000)} s: P's client published ${DURING} more; F's client had ${duringPartition - BEFORE} of them`)
  await proxy.heal()
  const healedAt = Date.now()

  await eventually(() => seen.size === BEFORE + DURING, { what: `F's client to see all ${BEFORE + DURING} (has ${seen.size})`, timeoutMs: 120000, intervalMs: 200 })
  t.diagnostic(`healed: all ${BEFORE + DURING} at F's client ${((Date.now() - healedAt) / 1000).toFixed(1)} s after the heal`)
  for (const id of published) assert.equal(seen.get(id), 1, `event ${id} reached F's client exactly once`)
  assert.deepEqual(closed, [], "F's client never saw its REQ closed")

  const price = PRICES.subscription + (BEFORE + DURING) * PRICES.event_delivered
  let last = null
  const [sp, sf] = await eventually(async () => {
    const cur = [await P.status(), await F.status()]
    const paid = cur[0].subscriptions.find((x) => x.direction === 'inbound' && x.peer === fPk)?.amount_paid
    const same = last === paid && paid >= price
    last = paid
    return same && cur
  }, { what: 'payments to settle', intervalMs: 1500, timeoutMs: 60000 })
  const inbound = sp.subscriptions.find((x) => x.direction === 'inbound' && x.peer === fPk)
  const outbound = sf.subscriptions.find((x) => x.direction === 'outbound' && x.peer === pPk)
  const ledger = (s) => s.accounts.reduce((sum, a) => sum + a.balance, 0)
  t.diagnostic(`P counted ${inbound.events_delivered} delivered, paid ${inbound.amount_paid} (expected ${price}); ledgers P=${ledger(sp)} F=${ledger(sf)}`)
  assert.equal(inbound.events_delivered, BEFORE + DURING, 'P counted each event once')
  assert.equal(inbound.amount_paid, price, 'P was paid for each event once')
  assert.equal(outbound.amount_paid, price, "F's record agrees")
  assert.equal(ledger(sp), price, "P's ledger holds exactly the prices")
  assert.equal(ledger(sf), -price, "F's ledger mirrors it")
  assert.equal(inbound.status, 'active')
  assert.equal(outbound.status, 'active')
})
