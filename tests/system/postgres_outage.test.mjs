// Issue 12 (5): PostgreSQL going away never turns into `OK true` for an event that is not
// stored. The test starts a PostgreSQL instance of its own (the installed server's initdb and
// pg_ctl, run as the `postgres` user, in a temp dir, on a free port) so it can crash it
// (`pg_ctl stop -m immediate`: no shutdown checkpoint, as a killed server) and start it again.
// A btpnips node keeps its state there. Two clients publish, 16 EVENTs in flight each, while
// the server is up, down and up again. Every EVENT gets an OK; while the server is down they are
// `OK false "error: …"`; once it is back the node stores and acks again without a restart; and
// the set of events answered `OK true` is exactly the set stored, also after the node is killed
// and restarted. Skipped (and says so) where initdb/pg_ctl or the postgres user are missing.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateSecretKey } from 'nostr-tools/pure'
import { NodeProcess, freePort, sleep, stopAll } from './lib/harness.mjs'
import { accepted, publishUntil, refused, storedAmong } from './lib/publish.mjs'

const WINDOW = 16

/** The installed server's binaries (Debian: /usr/lib/postgresql/<version>/bin). */
function pgBin () {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}
const bin = pgBin()
let skip = false
let uid = 0
let gid = 0
if (!bin || !existsSync(path.join(bin, 'initdb'))) {
  skip = 'PostgreSQL server binaries (initdb, pg_ctl) not installed'
} else {
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
  } catch {
    skip = 'no postgres user to run the server as'
  }
}
if (skip) console.log(`# ${skip}: skipping the PostgreSQL outage test`)

const pgDir = mkdtempSync(path.join(tmpdir(), 'btpnips-pg-'))
const pgData = path.join(pgDir, 'data')
let port = 0
const asPostgres = (cmd, args) => execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: 'pipe' })
const pgStart = () => asPostgres('pg_ctl', ['-D', pgData, '-l', path.join(pgDir, 'log'), '-w', '-o', `-p ${port} -k ${pgDir} -c listen_addresses=127.0.0.1`, 'start'])
const pgCrash = () => asPostgres('pg_ctl', ['-D', pgData, '-m', 'immediate', '-w', 'stop'])

const nodes = []
after(async () => {
  await stopAll(nodes)
  if (!skip && existsSync(path.join(pgData, 'postmaster.pid'))) {
    try { pgCrash() } catch {}
  }
  rmSync(pgDir, { recursive: true, force: true })
})

test('PostgreSQL crashing under a publishing node: refusals while it is down, acked = stored, recovery without a restart', { skip }, async () => {
  chownSync(pgDir, uid, gid)
  asPostgres('initdb', ['-D', pgData, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  port = await freePort()
  pgStart()
  const sk = generateSecretKey()
  const node = new NodeProcess('PG', { config: { p2p: { enabled: false }, database_url: `postgres://postgres@127.0.0.1:${port}/postgres` } })
  nodes.push(node)
  await node.start()

  // 1. Up: everything is stored.
  const up = await publishUntil(node.relayUrl, sk, (oks) => oks.size >= 600, { window: WINDOW })
  assert.equal(refused(up).length, 0, `refused while the server was up: ${JSON.stringify(refused(up)[0])}`)

  // 2. Crash the server while the clients publish: they go on until 300 EVENTs were refused.
  let crashedAt = null
  const during = publishUntil(node.relayUrl, sk, (oks) => {
    if (crashedAt === null && oks.size >= 200) { crashedAt = oks.size; pgCrash() }
    return refused(oks).length >= 300
  }, { window: WINDOW })
  const down = await during
  const refusals = refused(down)
  console.log(`# crashed after ${crashedAt} more: ${accepted(down).length} acked, ${refusals.length} refused, first ${JSON.stringify(refusals[0]?.[1])}`)
  for (const [, o] of refusals) assert.match(o.message, /^error: /, 'a refusal carries the NIP-01 error: prefix')

  // 3. Back up: the node stores again by itself (its writer reconnects on the next batch).
  pgStart()
  await sleep(500)
  const back = await publishUntil(node.relayUrl, sk, (oks) => accepted(oks).length >= 300, { window: WINDOW })
  console.log(`# server back: ${accepted(back).length} acked, ${refused(back).length} refused while reconnecting`)

  const all = new Map([...up, ...down, ...back])
  let stored = await storedAmong(node.relayUrl, all.keys())
  const acked = accepted(all)
  assert.equal(acked.filter((id) => !stored.has(id)).length, 0, 'acked but not stored')
  assert.equal(stored.size, acked.length, 'stored but refused')

  // 4. Kill -9 and restart the node: everything acked is still there.
  await node.kill()
  await node.start()
  stored = await storedAmong(node.relayUrl, acked)
  assert.equal(acked.filter((id) => !stored.has(id)).length, 0, 'acked events lost across kill -9')
  console.log(`# after kill -9 of the node: ${stored.size} of ${acked.length} acked events stored; ${all.size - acked.length} refused`)
})
