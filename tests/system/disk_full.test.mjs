// Issue 11 (1): a full disk never turns into `OK true` for an event that is not stored.
// A real btpnips process keeps its data dir on a small tmpfs this test mounts (it needs the
// right to mount, as root in this sandbox has; without it the test is skipped and says so —
// storage/src/writer/tests.rs covers the same with SQLite's max_page_count). A ballast file
// takes part of the space. Two clients publish 4 KB events, 16 in flight each, until the disk
// is full and every EVENT is refused; then the ballast is deleted, and publishing must work
// again; then the process is killed (SIGKILL) and restarted. At every step the set of events
// answered `OK true` is exactly the set stored.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateSecretKey } from 'nostr-tools/pure'
import { NodeProcess, stopAll } from './lib/harness.mjs'
import { accepted, publishUntil, refused, storedAmong } from './lib/publish.mjs'

const MOUNT_MB = 24
const BALLAST_MB = 8
const WINDOW = 16
const BODY = 'x'.repeat(4096)

const mountPoint = mkdtempSync(path.join(tmpdir(), 'btpnips-full-'))
let mounted = false
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_MB}m,mode=0700`, 'tmpfs', mountPoint], { stdio: 'pipe' })
  mounted = true
} catch (e) {
  console.log(`# tmpfs mount not permitted (${String(e.stderr || e.message).trim()}): skipping the disk-full test`)
}

const nodes = []
after(async () => {
  await stopAll(nodes)
  if (mounted) execFileSync('umount', ['-l', mountPoint])
  rmSync(mountPoint, { recursive: true, force: true })
})

test('a full disk refuses events, acks exactly what it stores, and recovers once space is freed', { skip: !mounted && 'tmpfs mount not permitted' }, async () => {
  const ballast = path.join(mountPoint, 'ballast')
  writeFileSync(ballast, Buffer.alloc(BALLAST_MB * 1024 * 1024, 1))
  const dataDir = path.join(mountPoint, 'node')
  mkdirSync(dataDir, { mode: 0o700 })
  const sk = generateSecretKey()
  const node = new NodeProcess('D', { dataDir, config: { p2p: { enabled: false } } })
  nodes.push(node)
  await node.start()

  // 1. Fill the disk: go on until 500 EVENTs were refused (or far more were sent than can fit:
  // a node that acks what it does not store never refuses).
  const full = await publishUntil(node.relayUrl, sk, (oks) => refused(oks).length >= 500 || oks.size >= 4 * MOUNT_MB * 256, { window: WINDOW, body: BODY })
  const ackedFull = accepted(full)
  const refusals = refused(full)
  console.log(`# disk full: ${ackedFull.length} acked, ${refusals.length} refused, first refusal ${JSON.stringify(refusals[0]?.[1])}`)
  assert.ok(ackedFull.length > 500, `only ${ackedFull.length} events fitted before the disk was full`)
  for (const [, o] of refusals) assert.match(o.message, /^error: /, 'a refusal carries the NIP-01 error: prefix')
  let stored = await storedAmong(node.relayUrl, full.keys())
  assert.equal(ackedFull.filter((id) => !stored.has(id)).length, 0, 'acked but not stored while the disk is full')
  assert.equal(stored.size, ackedFull.length, 'stored but refused')

  // 2. Free space: new events are stored and acked again.
  rmSync(ballast)
  const again = await publishUntil(node.relayUrl, sk, (oks) => accepted(oks).length >= 300, { window: WINDOW, body: BODY })
  const ackedAgain = accepted(again)
  console.log(`# space freed: ${ackedAgain.length} acked, ${refused(again).length} refused while recovering`)
  stored = await storedAmong(node.relayUrl, again.keys())
  assert.equal(ackedAgain.filter((id) => !stored.has(id)).length, 0, 'acked but not stored after recovery')
  assert.equal(stored.size, ackedAgain.length, 'stored but refused after recovery')

  // 3. Kill -9 and restart: everything ever acked is still there.
  await node.kill()
  await node.start()
  const all = [...ackedFull, ...ackedAgain]
  stored = await storedAmong(node.relayUrl, all)
  assert.equal(all.filter((id) => !stored.has(id)).length, 0, 'acked events lost across kill -9')
  console.log(`# after kill -9: ${stored.size} of ${all.length} acked events stored`)
})
