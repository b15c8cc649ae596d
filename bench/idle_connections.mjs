// Memory of idle relay connections (issue 11): prints the node's RSS before and after opening
// N idle NIP-01 WebSocket connections from 127.0.0.1, and per connection. Asserts nothing; not
// a timed test.
//
//   cargo build --release -p btpnips
//   ulimit -n 20000   # this process and the node each hold N sockets (+ a few dozen)
//   BTPNIPS_BIN=target/release/btpnips node bench/idle_connections.mjs --connections 10000
//
// Loopback clients are the owner's: the relay's per-IP cap does not count them
// (`limits.relay.exempt_loopback`), only the global cap (16 384 by default) applies.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { NodeProcess, sleep } from '../tests/system/lib/harness.mjs'

// The pinned packages of tests/system (this folder has no node_modules of its own).
const req = createRequire(new URL('../tests/system/package.json', import.meta.url))
const WebSocket = req('ws')

const { values: opts } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '250' },
    settle: { type: 'string', default: '3000' }
  }
})
const n = Number(opts.connections)
const batch = Number(opts.batch)

function rssKiB (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1])
}

function openFiles () {
  const limits = readFileSync('/proc/self/limits', 'utf8')
  return Number(/Max open files\s+(\d+)/.exec(limits)[1])
}

if (openFiles() < n + 100) {
  console.error(`ulimit -n is ${openFiles()}: raise it to at least ${n + 100} (ulimit -n ${n + 100}) before running`)
  process.exit(2)
}

const node = new NodeProcess('idle', { config: { p2p: { enabled: false } }, env: { BTPNIPS_LOG: 'warn' } })
await node.start()
const pid = node.proc.pid
await sleep(Number(opts.settle))
const before = rssKiB(pid)

function connect () {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(node.relayUrl, { perMessageDeflate: false })
    ws.on('open', () => resolve(ws))
    ws.on('error', reject)
  })
}

const sockets = []
const started = Date.now()
for (let i = 0; i < n; i += batch) {
  const k = Math.min(batch, n - i)
  sockets.push(...await Promise.all(Array.from({ length: k }, connect)))
}
const openedMs = Date.now() - started
await sleep(Number(opts.settle))
const after = rssKiB(pid)

// Still serving: one more client gets an EOSE.
const probe = await connect()
const eose = await new Promise((resolve) => {
  probe.on('message', (d) => { if (JSON.parse(d)[0] === 'EOSE') resolve(true) })
  probe.send(JSON.stringify(['REQ', 'probe', { limit: 1 }]))
  setTimeout(() => resolve(false), 10000)
})

const open = sockets.filter((s) => s.readyState === WebSocket.OPEN).length
console.log(`idle relay connections: ${open} of ${n} open (opened in ${openedMs} ms), probe EOSE: ${eose}`)
console.log(`node RSS before: ${(before / 1024).toFixed(1)} MiB`)
console.log(`node RSS after:  ${(after / 1024).toFixed(1)} MiB`)
console.log(`per connection:  ${((after - before) / open).toFixed(2)} KiB`)

for (const s of sockets) s.terminate()
probe.terminate()
await node.stop()
