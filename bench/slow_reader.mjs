// REQ amplification (issue 11): a node with N stored events of S bytes; clients each send one
// `["REQ","x",{}]` and never read. Prints the node's RSS before, its peak while the clients
// hang, and whether (and when) the node closed them (`limits.relay_slow_reader_secs`).
// Asserts nothing; not a timed test.
//
//   cargo build --release -p btpnips
//   BTPNIPS_BIN=target/release/btpnips node bench/slow_reader.mjs --events 1500 --size 100000 --clients 1
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { NodeProcess, sleep } from '../tests/system/lib/harness.mjs'

const req = createRequire(new URL('../tests/system/package.json', import.meta.url))
const { generateSecretKey, finalizeEvent } = req('nostr-tools/pure')
const WebSocket = req('ws')

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '1500' },
    size: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '1' },
    watch: { type: 'string', default: '30' }
  }
})
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

const node = new NodeProcess('slow', { config: { p2p: { enabled: false } }, env: { BTPNIPS_LOG: 'warn,btpnips::relay=info' } })
await node.start()
const pid = node.proc.pid

// Store the events over one connection, 32 in flight.
const sk = generateSecretKey()
const now = Math.floor(Date.now() / 1000)
const pub = new WebSocket(node.relayUrl)
await new Promise((resolve) => pub.on('open', resolve))
const waiting = new Map()
pub.on('message', (d) => { const m = JSON.parse(d); if (m[0] === 'OK') waiting.get(m[1])?.(m[2]) })
const content = 'x'.repeat(Number(opts.size))
let stored = 0
for (let i = 0; i < Number(opts.events); i += 32) {
  const batch = []
  for (let j = i; j < Math.min(i + 32, Number(opts.events)); j++) {
    const e = finalizeEvent({ kind: 1, created_at: now - j, tags: [], content }, sk)
    batch.push(new Promise((resolve) => { waiting.set(e.id, resolve); pub.send(JSON.stringify(['EVENT', e])) }))
  }
  stored += (await Promise.all(batch)).filter(Boolean).length
}
pub.close()
await sleep(2000)
const before = rssMiB(pid)

// The clients: send the REQ, then stop reading the socket.
const closed = [] // when the node logged closing a slow reader, ms after the REQs
const started = Date.now()
const sockets = []
for (let c = 0; c < Number(opts.clients); c++) {
  const ws = new WebSocket(node.relayUrl, { perMessageDeflate: false })
  ws.on('open', () => { ws.send(JSON.stringify(['REQ', 'x', {}])); ws._socket.pause() })
  ws.on('error', () => {})
  sockets.push(ws)
}
let peak = before
let seen = 0
for (let t = 0; t < Number(opts.watch) * 4; t++) {
  await sleep(250)
  peak = Math.max(peak, rssMiB(pid))
  const n = node.log.join('').split('reads too slowly; closing').length - 1
  while (seen < n) { closed.push(Date.now() - started); seen++ }
}
for (const ws of sockets) ws.terminate()
await sleep(1000)
console.log(`${stored} events of ${opts.size} bytes stored; ${opts.clients} client(s) sent one REQ each and did not read for ${opts.watch} s`)
console.log(`node RSS before the REQs: ${before.toFixed(1)} MiB; peak: ${peak.toFixed(1)} MiB (+${(peak - before).toFixed(1)} MiB); now ${rssMiB(pid).toFixed(1)} MiB`)
console.log(`clients closed by the node as slow readers: ${closed.length} of ${opts.clients} (after ${closed.map((ms) => (ms / 1000).toFixed(1) + ' s').join(', ') || '-'})`)
await node.stop()
