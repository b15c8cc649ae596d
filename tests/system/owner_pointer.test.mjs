// An owner who keeps their Nostr key in a separate signer (docs/btp-nips.md §8 "Owners with a
// separate signer"). Node P runs under its own key with `owners = [O]`. O's client (nostr-tools)
// publishes notes and an owner pointer (Kind 32001, `node` tag → P) to P's relay; P names O back
// in its announcement. A follower two hops away (F → M → P on the bootstrap chain) follows O's
// pubkey, not P's; its node resolves O through the pointer, subscribes to P (paying P's price
// plus M's fee) and the follower's client receives O's notes, stored and live, exactly once.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, stopAll } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const PRICES = { subscription: 500, subscription_period_secs: 86400, event_delivered: 5, delivery_credit: 100 }
const FEE = { fixed: 3, basis_points: 0 }
const ownerKey = generateSecretKey() // O: lives in the owner's signer, never on a node
const owner = getPublicKey(ownerKey)
const followerKey = generateSecretKey() // F's owner is F's node key (the default)
const p2p = { kad_query_interval_secs: 2 }
const P = new NodeProcess('publisher', { config: { owners: [owner], prices: PRICES, fee: FEE, p2p } })
const M = new NodeProcess('middle', { config: { prices: PRICES, fee: FEE, p2p } })
const F = new NodeProcess('follower', { secretHex: bytesToHex(followerKey), config: { prices: PRICES, fee: FEE, p2p } })
const nodes = [P, M, F]
const clients = []
after(async () => { for (const c of clients) c.close(); await stopAll(nodes) })

const now = () => Math.floor(Date.now() / 1000)
async function connect (node) { const c = await Relay.connect(node.relayUrl); clients.push(c); return c }

test('owner O points at node P from a separate signer; a follower two hops away follows O', async (t) => {
  await P.start()
  const pPub = (await P.status()).node.pubkey
  assert.notEqual(pPub, owner, 'P runs under its own key')
  M.config.bootstrap = [{ multiaddr: P.p2pAddrs[0], pubkey: pPub }]
  await M.start()
  const mPub = (await M.status()).node.pubkey
  F.config.bootstrap = [{ multiaddr: M.p2pAddrs[0], pubkey: mPub }]
  await F.start()

  // P's announcement names O as owner; F holds it, but O resolves to nothing yet.
  await eventually(async () => (await F.status()).directory.some((d) => d.pubkey === pPub && d.owners.includes(owner)),
    { what: "F to hold P's announcement naming O", timeoutMs: 60000 })

  // O's client: a stored note and the pointer O → P, both to P's relay.
  const oc = await connect(P)
  const stored = finalizeEvent({ kind: 1, created_at: now(), tags: [], content: 'stored note of O' }, ownerKey)
  await oc.publish(stored)
  const pointers = new Map() // what O's own client sees of its pointer, live
  oc.subscribe([{ kinds: [32001], authors: [owner] }], { onevent: (e) => pointers.set(e.id, (pointers.get(e.id) ?? 0) + 1) })
  const pointer = finalizeEvent({ kind: 32001, created_at: now(), tags: [['d', 'btpnips-node'], ['node', pPub]], content: '' }, ownerKey)
  await oc.publish(pointer) // OK true: stored, then spread over the peer network

  await eventually(async () => (await F.status()).owner_pointers.some((p) => p.owner === owner && p.node === pPub && p.resolves),
    { what: "F to resolve O to P through O's pointer and P's announcement", timeoutMs: 60000 })
  assert.equal(pointers.get(pointer.id), 1, "O's client saw its pointer once (not again when P took it into its directory, nor when it came back by gossip)")
  const t0 = Date.now()

  // F's owner follows O (the person), and watches their own node.
  const fc = await connect(F)
  const seen = new Map()
  fc.subscribe([{ kinds: [1] }], { onevent: (e) => seen.set(e.id, (seen.get(e.id) ?? 0) + 1) })
  await fc.publish(finalizeEvent({ kind: 3, created_at: now(), tags: [['p', owner]], content: '' }, followerKey))
  await eventually(() => seen.get(stored.id) === 1, { what: "O's stored note to reach F's client", timeoutMs: 60000 })
  t.diagnostic(`follow of O → stored note on F's client in ${Date.now() - t0} ms`)

  const live = finalizeEvent({ kind: 1, created_at: now(), tags: [], content: 'live note of O' }, ownerKey)
  await oc.publish(live)
  await eventually(() => seen.get(live.id) === 1, { what: "O's live note to reach F's client", timeoutMs: 60000 })

  const fs = await F.status()
  const sub = fs.subscriptions.find((x) => x.direction === 'outbound' && x.peer === owner)
  assert.equal(sub.status, 'active', 'F subscribed to O')
  assert.deepEqual(fs.routes[`test.btpnips.${pPub.slice(0, 16)}`], mPub, 'through M')
  const ps = await P.status()
  assert.ok(ps.subscriptions.some((x) => x.direction === 'inbound' && x.peer === fs.node.pubkey && x.status === 'active'), 'P serves it')

  // Balances: P earned exactly its prices, M its fees, F paid both; the sum is zero.
  let totals
  await eventually(async () => {
    totals = await Promise.all(nodes.map(async (n) => (await n.status()).accounts.reduce((s, a) => s + a.balance, 0)))
    return totals[0] === PRICES.subscription + 2 * PRICES.event_delivered
  }, { what: 'P to be paid for the subscription and both events', timeoutMs: 30000 })
  t.diagnostic(`balances P=${totals[0]} M=${totals[1]} F=${totals[2]}`)
  assert.equal(totals[1], 3 * FEE.fixed, 'M took its fee on each of the three paid packets')
  assert.equal(totals.reduce((a, b) => a + b, 0), 0, 'balances sum to zero')
  for (const [id, n] of seen) assert.equal(n, 1, `event ${id} seen once`)
})
