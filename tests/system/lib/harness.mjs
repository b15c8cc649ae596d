// Test harness: real `btpnips` processes in temp data dirs, plus helpers to read their
// status the way an operator would (HTTP API with the bearer token, and the CLI).
import { spawn, execFile, execFileSync } from 'node:child_process'
import net from 'node:net'
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { stringify as stringifyToml } from 'smol-toml'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(here, '..', '..', '..')
export const BIN = process.env.BTPNIPS_BIN ?? path.join(repoRoot, 'target', 'debug', 'btpnips')

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually (fn, { timeoutMs = 20000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) { last = e }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.stack : JSON.stringify(last)}`)
    await sleep(intervalMs)
  }
}

/** The PostgreSQL database the tests use (`scripts/postgres.sh` makes sure it is up). */
export const PG_BASE = process.env.BTPNIPS_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
let schemas = 0

/** Run one SQL statement on the test PostgreSQL database with psql. */
function psql (sql) {
  execFileSync('psql', [PG_BASE, '-qAtc', sql], { stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * A btpnips node in its own data dir. `secretHex` makes the owner's key the node key. With
 * `BTPNIPS_TEST_DATABASE=postgres` in the environment, a node with no `database_url` of its
 * own keeps its state in PostgreSQL, in a fresh schema dropped by `cleanup()`.
 */
export class NodeProcess {
  constructor (name, { secretHex, config = {}, env = {}, dataDir } = {}) {
    this.name = name
    this.env = env
    this.dataDir = dataDir ?? mkdtempSync(path.join(tmpdir(), `btpnips-${name}-`))
    if (secretHex) writeFileSync(path.join(this.dataDir, 'node.key'), secretHex + '\n', { mode: 0o600 })
    this.config = {
      relay_listen: '127.0.0.1:0',
      api_listen: '127.0.0.1:0',
      peer_listen: '127.0.0.1:0',
      upstream_eose_timeout_secs: 10,
      ...config,
      p2p: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], ...config.p2p }
    }
    if (process.env.BTPNIPS_TEST_DATABASE === 'postgres' && !this.config.database_url) {
      this.schema = `sys_${process.pid}_${schemas++}_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`
      psql(`CREATE SCHEMA ${this.schema}`)
      const sep = PG_BASE.includes('?') ? '&' : '?'
      this.config.database_url = `${PG_BASE}${sep}options=-c%20search_path%3D${this.schema}`
    }
    this.log = []
  }

  writeConfig () {
    writeFileSync(path.join(this.dataDir, 'btpnips.toml'), stringifyToml(this.config))
  }

  async start () {
    this.writeConfig()
    rmSync(path.join(this.dataDir, 'listen.json'), { force: true })
    this.proc = spawn(BIN, ['--data-dir', this.dataDir, 'run'], { env: { ...process.env, BTPNIPS_LOG: process.env.BTPNIPS_LOG ?? 'info', ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] })
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })))
    this.proc.stderr.on('data', (d) => {
      this.log.push(d.toString())
      if (process.env.SHOW_NODE_LOGS) process.stderr.write(`[${this.name}] ${d}`)
    })
    const listenFile = path.join(this.dataDir, 'listen.json')
    await eventually(() => existsSync(listenFile), { what: `${this.name} to start`, timeoutMs: 30000 })
    this.listen = JSON.parse(readFileSync(listenFile, 'utf8'))
    this.token = readFileSync(path.join(this.dataDir, 'api-token'), 'utf8').trim()
    // Keep the same ports across restarts, as a configured node would.
    Object.assign(this.config, { relay_listen: this.listen.relay, api_listen: this.listen.api, peer_listen: this.listen.peer })
    // libp2p: the PeerId (from the node key) and the bound QUIC addresses, kept across restarts.
    this.peerId = this.listen.peer_id
    this.p2pAddrs = this.listen.p2p
    if (this.p2pAddrs?.length) this.config.p2p = { ...this.config.p2p, listen: this.p2pAddrs.map((a) => a.replace(/\/p2p\/.*$/, '')) }
    this.relayUrl = `ws://${this.listen.relay}`
    this.peerUrl = `ws://${this.listen.peer}`
    return this
  }

  async stop () {
    if (!this.proc || this.proc.exitCode !== null) return
    this.proc.kill('SIGTERM')
    const r = await Promise.race([this.exited, sleep(10000).then(() => null)])
    if (!r) { this.proc.kill('SIGKILL'); await this.exited }
  }

  /** Crash the process (SIGKILL): no goodbye to its peers. */
  async kill () {
    if (!this.proc || this.proc.exitCode !== null) return
    this.proc.kill('SIGKILL')
    await this.exited
  }

  async status () {
    const res = await fetch(`http://${this.listen.api}/api/status`, { headers: { Authorization: `Bearer ${this.token}` } })
    if (res.status !== 200) throw new Error(`status HTTP ${res.status}: ${await res.text()}`)
    return res.json()
  }

  /** The same status through the CLI, as an operator would run it. */
  async cliStatus () {
    const { stdout } = await promisify(execFile)(BIN, ['--data-dir', this.dataDir, 'status'])
    return JSON.parse(stdout)
  }

  logs () { return this.log.join('') }

  cleanup () {
    if (process.env.KEEP_DATA) return
    rmSync(this.dataDir, { recursive: true, force: true })
    if (this.schema) psql(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`)
  }
}

/**
 * Start `nodes` on a line: each bootstraps (libp2p QUIC) from its left neighbour, whose key is
 * `pubs[i - 1]`. Resolves once every node has a route to and the announcement of every other.
 */
export async function startLine (nodes, pubs) {
  for (let i = 0; i < nodes.length; i++) {
    if (i > 0) nodes[i].config.bootstrap = [{ multiaddr: nodes[i - 1].p2pAddrs[0], pubkey: pubs[i - 1] }]
    await nodes[i].start()
  }
  for (const [i, n] of nodes.entries()) {
    await eventually(async () => {
      const s = await n.status()
      return nodes.every((_, j) => j === i || (Object.keys(s.routes).includes(`test.btpnips.${pubs[j].slice(0, 16)}`) &&
        s.directory.some((d) => d.pubkey === pubs[j])))
    }, { what: `${n.name} to learn every route and announcement`, timeoutMs: 90000, intervalMs: 300 })
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
    srv.on('error', reject)
  })
}

/**
 * Stop every process (newest first); when the run failed, print what each one logged. Nodes
 * also get their data dirs removed. Anything with `stop()` (and optionally `describe()`) works.
 */
export async function stopAll (procs) {
  for (const p of [...procs].reverse()) {
    await p.stop()
    if (process.exitCode) console.error(`--- ${p.name} ---\n${p instanceof NodeProcess ? p.logs() : (p.describe?.() ?? '')}`)
    if (p instanceof NodeProcess) p.cleanup()
  }
}

/**
 * A TCP proxy on 127.0.0.1 that a test controls, standing between a node and something it
 * talks to (a peer's listener, the chain RPC), to cut the path without touching either end:
 * - `cut('refuse')`: every connection is dropped and the port refuses new ones, as when the
 *   far end has gone away (a stopped RPC server);
 * - `cut('blackhole')`: connections stay up but nothing passes either way, new ones are
 *   accepted and hear nothing, as in a network partition;
 * - `heal()`: traffic passes again; connections that lived through a blackhole are closed
 *   (bytes were lost inside them), so both ends reconnect.
 */
export class TcpProxy {
  constructor (name, targetPort, targetHost = '127.0.0.1') {
    this.name = name
    this.target = { port: targetPort, host: targetHost }
    this.pairs = new Set()
    this.mode = 'open'
    this.server = null
    this.port = 0
  }

  async start (port = 0) {
    this.server = net.createServer((client) => this.#accept(client))
    await new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port || this.port, '127.0.0.1', resolve)
    })
    this.port = this.server.address().port
    return this
  }

  #accept (client) {
    client.setNoDelay(true)
    const pair = { client, upstream: null, survivedBlackhole: this.mode === 'blackhole' }
    this.pairs.add(pair)
    const done = () => { this.pairs.delete(pair); client.destroy(); pair.upstream?.destroy() }
    client.on('error', done); client.on('close', done)
    const upstream = net.connect(this.target.port, this.target.host)
    upstream.setNoDelay(true)
    pair.upstream = upstream
    upstream.on('error', done); upstream.on('close', done)
    client.on('data', (d) => { if (this.mode === 'open' && !pair.survivedBlackhole) upstream.write(d) })
    upstream.on('data', (d) => { if (this.mode === 'open' && !pair.survivedBlackhole) client.write(d) })
  }

  async cut (mode = 'blackhole') {
    this.mode = mode
    if (mode === 'refuse') {
      for (const p of this.pairs) { p.client.destroy(); p.upstream?.destroy() }
      this.pairs.clear()
      await new Promise((resolve) => this.server.close(resolve))
      this.server = null
    } else {
      for (const p of this.pairs) p.survivedBlackhole = true
    }
  }

  async heal () {
    const wasRefusing = this.mode === 'refuse'
    this.mode = 'open'
    for (const p of [...this.pairs]) if (p.survivedBlackhole) { p.client.destroy(); p.upstream?.destroy(); this.pairs.delete(p) }
    if (wasRefusing) await this.start(this.port)
  }

  async stop () {
    this.mode = 'refuse'
    for (const p of this.pairs) { p.client.destroy(); p.upstream?.destroy() }
    this.pairs.clear()
    if (this.server) await new Promise((resolve) => this.server.close(resolve))
    this.server = null
  }
}
