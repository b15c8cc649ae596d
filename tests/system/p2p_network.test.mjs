// Issue 5: ten real btpnips processes on loopback that know each other only through a
// bootstrap list (a ring: node i lists node i−1; node 9 also lists node 0). They find each
// other over libp2p (QUIC, Kademlia), spread signed Kind 32001 announcements, learn routes
// over CCP, and then the owners' follow lists (Kind 3) drive paid subscriptions to
// publishers two or more hops away. A node in the middle is stopped and the network routes
// around it.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, stopAll } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const N = 10
const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 100 }
const FEE = { fixed: 2, basis_points: 0 }
const keys = Array.from({ length: N }, () => generateSecretKey())
const pubs = keys.map((k) => getPublicKey(k))
const nodes = keys.map((k, i) => new NodeProcess(`n${i}`, {
  secretHex: bytesToHex(k),
  config: {
    prices: PRICES,
    fee: FEE,
    p2p: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], kad_query_interval_secs: 2, announce_interval_secs: 30, liveness_timeout_ms: 4000 }
  }
}))
// Followers and the publishers they follow: every pair is at least two hops apart on the ring.
const FOLLOWS = { 0: [3, 5], 6: [2], 4: [8] }
const STOPPED = 1 // on the shortest path 0 → 3, stopped mid-test, later restarted
const CRASHED = 2 // on the same path, killed (SIGKILL) after n1 is back
const down = new Set() // indexes of nodes not running
const frozen = {} // index → balance total when it went down
const clients = []

after(async () => {
  for (const c of clients) c.close()
  await stopAll(nodes)
})

const now = () => Math.floor(Date.now() / 1000)
const note = (i, content) => finalizeEvent({ kind: 1, created_at: now(), tags: [], content }, keys[i])
const ringHops = (a, b) => Math.min((a - b + N) % N, (b - a + N) % N)
const alive = () => nodes.filter((_, i) => !down.has(i))
const routeTo = (i) => `test.btpnips.${pubs[i].slice(0, 16)}`

function balances (status) { return status.accounts.reduce((sum, a) => sum + a.balance, 0) }

test('ten nodes start with only a bootstrap list (a ring)', async () => {
  for (let i = 0; i < N; i++) {
    const boot = []
    if (i > 0) boot.push({ multiaddr: nodes[i - 1].p2pAddrs[0], pubkey: pubs[i - 1] })
    if (i === N - 1) boot.push({ multiaddr: nodes[0].p2pAddrs[0], pubkey: pubs[0] })
    nodes[i].config.bootstrap = boot
    await nodes[i].start()
    assert.ok(nodes[i].peerId, 'the node reports its libp2p PeerId')
    assert.match(nodes[i].p2pAddrs[0], /\/udp\/\d+\/quic-v1\/p2p\//)
  }
})

test('discovery: Kademlia knows every node, every announcement arrives verified, routes converge', async (t) => {
  const t0 = Date.now()
  for (const [i, n] of nodes.entries()) {
    await eventually(async () => {
      const s = await n.status()
      const known = new Set(s.p2p.known_nodes.map((k) => k.pubkey))
      const announced = new Set(s.directory.map((d) => d.pubkey))
      const routed = nodes.every((m, j) => j === i || Object.keys(s.routes).includes(`test.btpnips.${pubs[j].slice(0, 16)}`))
      return pubs.every((pk, j) => j === i || (known.has(pk) && announced.has(pk))) && routed
    }, { what: `n${i} to discover the network`, timeoutMs: 90000, intervalMs: 500 })
  }
  t.diagnostic(`discovery (all 10 known, announced and routed on every node) took ${Date.now() - t0} ms after the last start`)
  // ILP links follow the bootstrap ring: each node is linked to its two neighbours only.
  for (const [i, n] of nodes.entries()) {
    const linked = new Set((await n.status()).p2p.linked)
    assert.deepEqual(linked, new Set([pubs[(i + 1) % N], pubs[(i + N - 1) % N]]), `n${i} links`)
  }
  // Every announcement carries what a stranger needs to pay the node.
  const d = (await nodes[0].status()).directory.find((e) => e.pubkey === pubs[5])
  assert.equal(d.ilp_address, `test.btpnips.${pubs[5].slice(0, 16)}`)
  assert.ok(d.multiaddrs[0].endsWith(`/p2p/${nodes[5].peerId}`))
})

const received = {} // follower index → Map(event id → count)
const published = {} // publisher index → [event]

async function publish (i, text) {
  const c = await Relay.connect(nodes[i].relayUrl)
  clients.push(c)
  const e = note(i, text)
  await c.publish(e) // resolves on OK true (committed)
  ;(published[i] ??= []).push(e)
  return e
}

test('follow lists (Kind 3) open paid subscriptions to publishers two or more hops away', async () => {
  const publishers = [...new Set(Object.values(FOLLOWS).flat())]
  for (const p of publishers) await publish(p, `stored note of n${p}`)

  for (const [f, followed] of Object.entries(FOLLOWS)) {
    for (const p of followed) assert.ok(ringHops(+f, p) >= 2, `n${f} → n${p} is at least two hops`)
    const c = await Relay.connect(nodes[f].relayUrl)
    clients.push(c)
    const seen = received[f] = new Map()
    // An ordinary client view of the owner's own node: every kind-1 note it holds.
    c.subscribe([{ kinds: [1] }], { onevent: (e) => seen.set(e.id, (seen.get(e.id) ?? 0) + 1) })
    const contacts = finalizeEvent({ kind: 3, created_at: now(), tags: followed.map((p) => ['p', pubs[p]]), content: '' }, keys[f])
    await c.publish(contacts)
  }
  for (const [f, followed] of Object.entries(FOLLOWS)) {
    await eventually(async () => {
      const s = await nodes[f].status()
      return followed.every((p) => s.subscriptions.some((x) => x.direction === 'outbound' && x.peer === pubs[p] && x.status === 'active'))
    }, { what: `n${f}'s follow-driven subscriptions`, timeoutMs: 60000 })
  }
  for (const p of publishers) { await publish(p, `live note 1 of n${p}`); await publish(p, `live note 2 of n${p}`) }
  await allDelivered()
})

async function allDelivered () {
  for (const [f, followed] of Object.entries(FOLLOWS)) {
    const want = followed.flatMap((p) => published[p].map((e) => e.id))
    await eventually(() => want.every((id) => received[f].get(id) >= 1), { what: `n${f} to receive every followed event`, timeoutMs: 60000 })
  }
}

test('every follower received every followed event exactly once', async () => {
  for (const [f, followed] of Object.entries(FOLLOWS)) {
    for (const p of followed) for (const e of published[p]) assert.equal(received[f].get(e.id), 1, `n${f} got ${e.content} once`)
    const unfollowed = Object.keys(published).map(Number).filter((p) => !followed.includes(p))
    for (const p of unfollowed) for (const e of published[p]) assert.equal(received[f].has(e.id), false, `n${f} never follows n${p}`)
  }
})

async function quiescentBalances (set) {
  // Payments for the last deliveries may still be in flight: wait until two reads agree.
  let last = null
  return eventually(async () => {
    const cur = await Promise.all(set.map(async (n) => balances(await n.status())))
    const same = last && cur.every((v, i) => v === last[i])
    last = cur
    return same && cur
  }, { what: 'balances to settle', intervalMs: 1500, timeoutMs: 60000 })
}

test('fees were taken at each hop and balances sum to zero network-wide', async (t) => {
  const totals = await quiescentBalances(nodes)
  t.diagnostic(`balance totals per node (asset units): ${totals.map((v, i) => `n${i}=${v}`).join(' ')}`)
  assert.equal(totals.reduce((a, b) => a + b, 0), 0, `sum of every node's balances: ${totals}`)
  // Publishers earned their prices (what arrived after the connectors' fees).
  for (const [f, followed] of Object.entries(FOLLOWS)) {
    for (const p of followed) {
      const s = await nodes[p].status()
      const sub = s.subscriptions.find((x) => x.direction === 'inbound' && x.peer === pubs[f])
      assert.equal(sub.amount_paid, PRICES.subscription + published[p].length * PRICES.event_delivered, `n${p} got exactly its prices from n${f}`)
    }
  }
  // n0 (only a follower so far, never on another flow's path) paid the prices plus the fixed fee
  // of every connector on each path, for every paid packet: the REQ, and the payments for
  // delivered events, which are aggregated (one payment covers every event delivered while the
  // previous one was in flight), so between one and one-per-event of them.
  const prices = (p) => PRICES.subscription + published[p].length * PRICES.event_delivered
  const fees = (f, p, payments) => (1 + payments) * FEE.fixed * (ringHops(f, p) - 1)
  const paid = -totals[0]
  const min = prices(3) + prices(5) + fees(0, 3, 1) + fees(0, 5, 1)
  const max = prices(3) + prices(5) + fees(0, 3, published[3].length) + fees(0, 5, published[5].length)
  assert.ok(paid >= min && paid <= max && (paid - prices(3) - prices(5)) % FEE.fixed === 0,
    `n0 paid prices and every hop’s fee: ${paid} in [${min}, ${max}]`)
  // Nodes that only forwarded earned fees (their balance is the sum of the fees they took).
  for (const i of [1, 2, 7]) assert.ok(totals[i] > 0 && totals[i] % FEE.fixed === 0, `n${i} earned fees: ${totals[i]}`)
})

test('a node in the middle stops; the network routes around it and delivery continues', async (t) => {
  frozen[STOPPED] = balances(await nodes[STOPPED].status())
  await nodes[STOPPED].stop()
  down.add(STOPPED)
  const stoppedAt = Date.now()
  await eventually(async () => (await nodes[0].status()).routes[routeTo(3)] === pubs[N - 1], { what: "n0's route to n3 to go through n9", timeoutMs: 60000 })
  t.diagnostic(`n0 rerouted to n3 through n9 ${Date.now() - stoppedAt} ms after n1 stopped`)
  for (const p of [3, 5]) await publish(p, `after the stop: note of n${p}`)
  await allDelivered()
  t.diagnostic(`events published after the stop delivered ${Date.now() - stoppedAt} ms after n1 stopped`)
  for (const p of [3, 5]) for (const e of published[p]) assert.equal(received[0].get(e.id), 1, `n0 got ${e.content} once`)
  const totals = await quiescentBalances(alive())
  t.diagnostic(`balance totals after the stop: ${totals.join(' ')} (+ n1 frozen at ${frozen[STOPPED]})`)
  assert.equal(totals.reduce((a, b) => a + b, 0) + frozen[STOPPED], 0, 'balances still sum to zero (the stopped node’s frozen)')
})

test('the stopped node rejoins; a crashed node (SIGKILL, no goodbye) is detected and routed around', async (t) => {
  nodes[STOPPED].config.bootstrap = [0, 2].map((j) => ({ multiaddr: nodes[j].p2pAddrs[0], pubkey: pubs[j] }))
  await nodes[STOPPED].start()
  down.delete(STOPPED)
  await eventually(async () => (await nodes[0].status()).routes[routeTo(3)] === pubs[STOPPED], { what: "n0's route to n3 back through n1", timeoutMs: 60000 })
  const before = await quiescentBalances(nodes)
  assert.equal(before.reduce((a, b) => a + b, 0), 0, 'n1 kept its balances across the restart; the sum is zero')
  frozen[CRASHED] = before[CRASHED]
  await nodes[CRASHED].kill()
  down.add(CRASHED)
  const killedAt = Date.now()
  await eventually(async () => (await nodes[0].status()).routes[routeTo(3)] === pubs[N - 1], { what: "n0's route to n3 to avoid the crashed n2", timeoutMs: 60000, intervalMs: 250 })
  t.diagnostic(`crash of n2 detected (QUIC liveness timeout 4 s) and n0 rerouted to n3 through n9 ${Date.now() - killedAt} ms after SIGKILL`)
  await publish(3, 'after the crash: note of n3')
  await eventually(() => published[3].every((e) => received[0].get(e.id) === 1), { what: 'n0 to receive the note published after the crash', timeoutMs: 60000 })
  const totals = await quiescentBalances(alive())
  assert.equal(totals.reduce((a, b) => a + b, 0) + frozen[CRASHED], 0, 'balances sum to zero with the crashed node’s frozen')
})

test('unfollow closes the subscription', async () => {
  const c = await Relay.connect(nodes[4].relayUrl)
  clients.push(c)
  await c.publish(finalizeEvent({ kind: 3, created_at: now() + 1, tags: [], content: '' }, keys[4]))
  await eventually(async () => {
    const s = await nodes[4].status()
    return s.subscriptions.find((x) => x.direction === 'outbound' && x.peer === pubs[8])?.status === 'closed: unfollowed'
  }, { what: 'n4 to close its subscription to n8' })
  await eventually(async () => {
    const s = await nodes[8].status()
    return s.subscriptions.find((x) => x.direction === 'inbound' && x.peer === pubs[4])?.status.startsWith('closed')
  }, { what: 'n8 to see the CLOSE' })
  const e = await publish(8, 'after the unfollow')
  await new Promise((resolve) => setTimeout(resolve, 2000))
  assert.equal(received[4].has(e.id), false, 'nothing arrives after the unfollow')
})
