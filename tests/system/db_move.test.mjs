// Issue 12 (4): moving a real node's database between backends with the CLI, as an operator
// would. Alice's node (SQLite) sells Bob's node a paid subscription and delivers 40 notes, so
// it holds events, a ledger, a subscription record and a peer. Alice is stopped;
// `btpnips db export` writes her state, `db import` loads it into a fresh PostgreSQL schema and
// `db summary` must match (counts, every balance, every channel); Alice restarts on
// PostgreSQL, Bob's subscription goes on (a new note arrives, paid once); then the same move
// back into a new SQLite file, summary checked again, and Alice runs on it.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { BIN, NodeProcess, PG_BASE, eventually, stopAll } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 1000 }
const aliceSk = generateSecretKey()
const alicePk = getPublicKey(aliceSk)
const bobSk = generateSecretKey()
const bobPk = getPublicKey(bobSk)
// Alice starts on her data dir's SQLite file whatever BTPNIPS_TEST_DATABASE says.
const alice = new NodeProcess('alice', { secretHex: bytesToHex(aliceSk), config: { prices: PRICES } })
delete alice.config.database_url
const bob = new NodeProcess('bob', { secretHex: bytesToHex(bobSk) })
const nodes = [alice, bob]
const schema = `move_${process.pid}`
const psql = (sql) => execFileSync('psql', [PG_BASE, '-qAtc', sql], { stdio: ['ignore', 'pipe', 'pipe'] })
after(async () => {
  await stopAll(nodes)
  try { psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) } catch {}
})

/** `btpnips --data-dir <alice> db …` with `env`; resolves with stdout. */
async function db (args, env = {}) {
  const { stdout } = await promisify(execFile)(BIN, ['--data-dir', alice.dataDir, 'db', ...args], { env: { ...process.env, BTPNIPS_LOG: 'warn', ...env }, maxBuffer: 64 << 20 })
  return stdout
}
const note = (content) => finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content }, aliceSk)
const balanceOf = async (node, pubkey) => (await node.status()).peers.find((p) => p.pubkey === pubkey)?.balance

test("a node's database moves SQLite → PostgreSQL → SQLite with the CLI; the node runs on each", async () => {
  await alice.start()
  bob.config.bootstrap = [{ url: alice.peerUrl, pubkey: alicePk }]
  await bob.start()
  const bobClient = await Relay.connect(bob.relayUrl)
  const seen = new Set()
  bobClient.subscribe([{ authors: [alicePk], kinds: [1] }], { onevent: (e) => seen.add(e.id) })
  const aliceClient = await Relay.connect(alice.relayUrl)
  for (let i = 0; i < 40; i++) await aliceClient.publish(note(`note ${i}`))
  await eventually(() => seen.size === 40, { what: 'Bob has 40 notes', timeoutMs: 30000 })
  let paid = PRICES.subscription + 40 * PRICES.event_delivered
  await eventually(async () => (await balanceOf(alice, bobPk)) === paid, { what: `Alice paid ${paid}` })
  aliceClient.close()
  await alice.stop()

  // SQLite → PostgreSQL.
  const sqliteSummary = JSON.parse(await db(['summary']))
  assert.ok(sqliteSummary.events >= 40, `${sqliteSummary.events} events`) // the 40 notes and the node's own announcement
  assert.ok(sqliteSummary.ledger_entries > 0 && sqliteSummary.subscriptions >= 1 && sqliteSummary.peers >= 1, JSON.stringify(sqliteSummary))
  const file = path.join(alice.dataDir, 'state.jsonl')
  await db(['export', '--out', file])
  psql(`CREATE SCHEMA ${schema}`)
  const pgUrl = `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}options=-c%20search_path%3D${schema}`
  await db(['import', file], { BTPNIPS_DATABASE_URL: pgUrl })
  const pgSummary = JSON.parse(await db(['summary'], { BTPNIPS_DATABASE_URL: pgUrl }))
  assert.deepEqual(pgSummary, sqliteSummary, 'SQLite → PostgreSQL changed counts, balances or channels')
  console.log(`# moved to PostgreSQL: ${JSON.stringify({ ...pgSummary, accounts: pgSummary.accounts.map((a) => a.balance) })}`)

  // Alice runs on PostgreSQL: the subscription goes on, the new note is paid once.
  alice.config.database_url = pgUrl
  await alice.start()
  const again = await Relay.connect(alice.relayUrl)
  const late = note('after the move to PostgreSQL')
  await again.publish(late)
  await eventually(() => seen.has(late.id), { what: 'Bob gets the note published on PostgreSQL', timeoutMs: 30000 })
  paid += PRICES.event_delivered
  await eventually(async () => (await balanceOf(alice, bobPk)) === paid, { what: `Alice paid ${paid}` })
  again.close()
  await alice.stop()

  // PostgreSQL → a new SQLite file.
  const back = path.join(alice.dataDir, 'moved-back.db')
  const fileBack = path.join(alice.dataDir, 'state-pg.jsonl')
  await db(['export', '--out', fileBack], { BTPNIPS_DATABASE_URL: pgUrl })
  const pgNow = JSON.parse(await db(['summary'], { BTPNIPS_DATABASE_URL: pgUrl }))
  assert.equal(pgNow.events, sqliteSummary.events + 1)
  await db(['import', fileBack], { BTPNIPS_DATABASE_URL: `sqlite://${back}` })
  const backSummary = JSON.parse(await db(['summary'], { BTPNIPS_DATABASE_URL: `sqlite://${back}` }))
  assert.deepEqual(backSummary, pgNow, 'PostgreSQL → SQLite changed counts, balances or channels')
  alice.config.database_url = `sqlite://${back}`
  await alice.start()
  assert.equal(await balanceOf(alice, bobPk), paid, "Alice's balance with Bob after both moves")
  console.log(`# moved back to SQLite: ${backSummary.events} events, ${backSummary.ledger_entries} ledger entries, Alice's balance with Bob ${paid}`)
})
