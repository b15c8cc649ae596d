// Paid-delivery load generator (issue 10): prints figures, asserts nothing about speed.
//
// btpnips processes on a line, F3 — M2 — M1 — P — F1, as in tests/system/burst.test.mjs (or one
// side of it, `--hops`): F1 follows P one hop away, F3 three hops away (M1 and M2 each take
// their fee). P's owner
// publishes kind-1 notes over several client connections; the followers' own clients receive
// them. For each run it prints paid events/s delivered, publish→delivered latency p50/p99 (from
// the publisher's client sending the EVENT to the follower's client receiving it), and CPU µs
// per delivered event for each node (utime + stime from /proc). Events are signed before each
// run, so the figures are the nodes', not the JS signer's.
//
//   bench/paid.sh                       (builds the release binary, then runs this)
//   node bench/paid_delivery.mjs --events 5000 --rate 500 --connections 8 --window 16
//
// Runs: "full speed" (every connection publishes with `window` in flight) and "offered R/s"
// (a fixed rate of R events/s across the connections).
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { NodeProcess, eventually, startLine, stopAll } from '../tests/system/lib/harness.mjs'

// The pinned packages of tests/system (this folder has no node_modules of its own).
const req = createRequire(new URL('../tests/system/package.json', import.meta.url))
const { generateSecretKey, getPublicKey, finalizeEvent } = req('nostr-tools/pure')
const { Relay, useWebSocketImplementation } = req('nostr-tools/relay')
const { bytesToHex } = req('@noble/hashes/utils.js')
const WebSocket = req('ws')
useWebSocketImplementation(WebSocket)

/** A bare NIP-01 reader: records each EVENT's id and arrival time without verifying its
 * signature (the node did; in pure JS verification costs ~4 ms an event, which would make this
 * process, not the nodes, the bottleneck). */
function reader (url, filter, onEvent) {
  const ws = new WebSocket(url)
  ws.on('open', () => ws.send(JSON.stringify(['REQ', 'bench', filter])))
  ws.on('message', (data) => {
    const m = JSON.parse(data)
    if (m[0] === 'EVENT') onEvent(m[2].id)
  })
  return { close: () => ws.close() }
}

const { values: opt } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '500' },
    connections: { type: 'string', default: '8' },
    window: { type: 'string', default: '16' },
    credit: { type: 'string', default: '10000' },
    hops: { type: 'string', default: 'both' },
    only: { type: 'string' }
  }
})
const EVENTS = +opt.events
const RATE = +opt.rate
const CONNS = +opt.connections
const WINDOW = +opt.window

// The publisher's delivery credit (asset units) bounds what it delivers ahead of payment: at
// 10 per event, the node's default of 10 000 is 1 000 events per payment round trip.
const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: +opt.credit }
// `--hops both` (the default): F3—M2—M1—P—F1, both followers at once, five processes on the
// machine. `--hops 1`: P—F1 alone. `--hops 3`: F3—M2—M1—P alone.
const LINES = { both: ['F3', 'M2', 'M1', 'P', 'F1'], 1: ['P', 'F1'], 3: ['F3', 'M2', 'M1', 'P'] }
const NAMES = LINES[opt.hops]
if (!NAMES) throw new Error(`--hops must be both, 1 or 3, not ${opt.hops}`)
const keys = NAMES.map(() => generateSecretKey())
const pubs = keys.map((k) => getPublicKey(k))
const nodes = NAMES.map((name, i) => new NodeProcess(name, {
  secretHex: bytesToHex(keys[i]),
  env: { BTPNIPS_LOG: process.env.BENCH_LOG ?? 'warn' },
  config: { prices: PRICES, fee: { fixed: 2, basis_points: 0 }, p2p: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], kad_query_interval_secs: 2 } }
}))
const [F3, P, F1] = ['F3', 'P', 'F1'].map((n) => NAMES.indexOf(n))
const FOLLOWERS = [F1, F3].filter((f) => f >= 0)
const now = () => Math.floor(Date.now() / 1000)
const clk = () => Number(process.hrtime.bigint()) / 1e6 // ms
const TICK = 1e6 / 100 // µs per /proc clock tick (USER_HZ is 100 on Linux)
const cpu = (n) => { const f = readFileSync(`/proc/${n.proc.pid}/stat`, 'utf8').split(') ')[1].split(' '); return (+f[11] + +f[12]) * TICK }
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] }

const sent = new Map() // id → ms
const arrived = Object.fromEntries(FOLLOWERS.map((f) => [f, new Map()]))
const clients = []

async function setup () {
  await startLine(nodes, pubs)
  for (const f of FOLLOWERS) {
    clients.push(reader(nodes[f].relayUrl, { kinds: [1], authors: [pubs[P]] }, (id) => { if (!arrived[f].has(id)) arrived[f].set(id, clk()) }))
    const c = await Relay.connect(nodes[f].relayUrl)
    clients.push(c)
    await c.publish(finalizeEvent({ kind: 3, created_at: now(), tags: [['p', pubs[P]]], content: '' }, keys[f]))
    await eventually(async () => (await nodes[f].status()).subscriptions.some((s) => s.direction === 'outbound' && s.peer === pubs[P] && s.status === 'active'),
      { what: `${NAMES[f]}'s subscription`, timeoutMs: 60000 })
  }
}

async function run (label, rate) {
  // Sign first (nostr-tools signs ~4 ms per event in pure JS here, which would cap the offered
  // load), then time only publishing and delivery. Signing yields to the event loop every 100
  // events, so the open connections keep answering the nodes' WebSocket pings.
  const events = []
  while (events.length < EVENTS) {
    const i = events.length
    events.push(finalizeEvent({ kind: 1, created_at: now(), tags: [], content: `${label} ${i} ${Math.random()}` }, keys[P]))
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
  }
  const pubConns = []
  for (let i = 0; i < CONNS; i++) pubConns.push(await Relay.connect(nodes[P].relayUrl))
  clients.push(...pubConns)
  const ids = events.map((e) => e.id)
  const cpu0 = nodes.map(cpu)
  const w0 = await Promise.all(nodes.map(async (n) => (await n.status()).writer))
  const js0 = process.cpuUsage()
  const t0 = clk()
  let next = 0
  const make = () => events[next++]
  if (rate === 0) {
    await Promise.all(pubConns.flatMap((c) => Array.from({ length: WINDOW }, async () => {
      while (next < EVENTS) { const e = make(); sent.set(e.id, clk()); await c.publish(e) }
    })))
  } else {
    const pending = []
    let k = 0
    while (next < EVENTS) {
      const due = t0 + (next / rate) * 1000
      const wait = due - clk()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      const e = make()
      sent.set(e.id, clk())
      pending.push(pubConns[k++ % CONNS].publish(e))
    }
    await Promise.all(pending)
  }
  const published = clk()
  const out = []
  for (const f of FOLLOWERS) {
    await eventually(() => ids.every((id) => arrived[f].has(id)), { what: `${NAMES[f]} to get ${label}`, timeoutMs: 600000, intervalMs: 50 })
    const last = Math.max(...ids.map((id) => arrived[f].get(id)))
    const lat = ids.map((id) => arrived[f].get(id) - sent.get(id))
    out.push(`${NAMES[f]} (${f === F1 ? '1 hop' : '3 hops'}): ${Math.round(EVENTS / ((last - t0) / 1000))} paid events/s delivered, latency p50 ${pct(lat, 0.5).toFixed(1)} ms p99 ${pct(lat, 0.99).toFixed(1)} ms`)
    if (process.env.BENCH_SLOWEST) {
      // The slowest deliveries: when they were published (ms after the start) and how long they took.
      const slow = ids.map((id, i) => [i, sent.get(id) - t0, arrived[f].get(id) - sent.get(id)]).sort((a, b) => b[2] - a[2]).slice(0, +process.env.BENCH_SLOWEST)
      out.push(`  slowest: ${slow.map(([i, at, l]) => `#${i}@${at.toFixed(0)}:${l.toFixed(0)}`).join(' ')}`)
    }
  }
  const cpuUs = nodes.map((n, i) => (cpu(n) - cpu0[i]) / EVENTS)
  const js = process.cpuUsage(js0)
  const wall = (clk() - t0) * 1000 // µs
  const w1 = await Promise.all(nodes.map(async (n) => (await n.status()).writer))
  const writers = nodes.map((_, i) => {
    const b = w1[i].batches - w0[i].batches; const s = w1[i].submissions - w0[i].submissions
    return `${NAMES[i]} ${b} commits, ${(s / Math.max(b, 1)).toFixed(1)} submissions each, busy ${Math.round(100 * (w1[i].busy_us - w0[i].busy_us) / wall)}%`
  })
  for (const c of pubConns) c.close()
  console.log(`\n== ${label}: ${EVENTS} events, ${CONNS} publishing connections${rate ? `, offered ${rate}/s` : `, ${WINDOW} in flight each`}`)
  console.log(`P's clients published at ${Math.round(EVENTS / ((published - t0) / 1000))} events/s`)
  for (const line of out) console.log(line)
  console.log(`CPU µs per delivered event: ${NAMES.map((n, i) => `${n} ${Math.round(cpuUs[i])}`).join(', ')}; this process (the clients) ${Math.round((js.user + js.system) / EVENTS)}`)
  console.log(`writers: ${writers.join('; ')}`)
}

try {
  await setup()
  console.log(`${NAMES.length} nodes (${process.env.BTPNIPS_BIN ?? 'target/debug/btpnips'}) on a line ${NAMES.join('—')}; machine: ${(await import('node:os')).cpus().length} cores`)
  // `--only full` or `--only offered` runs one of the two.
  if (opt.only !== 'offered') await run('full speed', 0)
  if (opt.only !== 'full') await run(`offered ${RATE}/s`, RATE)
} finally {
  // BENCH_LOGS_TO=DIR keeps each node's log as DIR/<name>.log.
  if (process.env.BENCH_LOGS_TO) for (const n of nodes) writeFileSync(`${process.env.BENCH_LOGS_TO}/${n.name}.log`, n.logs())
  for (const c of clients) c.close()
  await stopAll(nodes)
}
