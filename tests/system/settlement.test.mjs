// Issue 4, step 6: two real nodes settle on a real EVM (anvil). Bob's node subscribes to
// Alice's and pays for events; when it owes more than its settle threshold it opens a channel
// and signs claims; Alice's node verifies them, survives a restart, and closes the channel on
// chain. Both EVM balances change by exactly the claimed amount, less the gas each one paid.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, BIN, stopAll, freePort } from './lib/harness.mjs'
import { Anvil } from './lib/evm.mjs'

useWebSocketImplementation(WebSocket)

const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 100 }
const WEI_PER_UNIT = 10n ** 9n // ETH at asset scale 9
const procs = []
after(() => stopAll(procs))

test('claims settle a paid subscription on chain; the payee closes; balances move by exactly the claim', async () => {
  const anvil = new Anvil(await freePort())
  procs.push(anvil)
  await anvil.ready()
  const contract = await anvil.deployChannel()
  const settlement = { enabled: true, chain: 'anvil', rpc_url: anvil.url, contract, deposit: 100000, settle_threshold: 1025, poll_interval_ms: 300, close_margin_secs: 3600, channel_lifetime_secs: 86400 }

  const aliceSk = generateSecretKey(); const alicePk = getPublicKey(aliceSk)
  const bobSk = generateSecretKey(); const bobPk = getPublicKey(bobSk)
  const alice = new NodeProcess('alice', { secretHex: bytesToHex(aliceSk), config: { prices: PRICES, settlement } })
  procs.push(alice)
  await alice.start()
  const bob = new NodeProcess('bob', { secretHex: bytesToHex(bobSk), config: { settlement, bootstrap: [{ url: alice.peerUrl, pubkey: alicePk }] } })
  procs.push(bob)
  await bob.start()
  const aliceEvm = (await alice.status()).settlement.address
  const bobEvm = (await bob.status()).settlement.address
  for (const a of [aliceEvm, bobEvm]) await anvil.setBalance(a, 10n ** 19n)
  const start = { alice: await anvil.balance(aliceEvm), bob: await anvil.balance(bobEvm) }
  await eventually(async () => (await bob.status()).peers.find((p) => p.pubkey === alicePk)?.connected, { what: 'link' })

  // Bob's client subscribes through his node; Alice publishes three notes.
  const bobClient = await Relay.connect(bob.relayUrl)
  const seen = []
  bobClient.subscribe([{ authors: [alicePk] }], { onevent: (e) => seen.push(e.id), oneose: () => {} })
  const aliceClient = await Relay.connect(alice.relayUrl)
  for (const text of ['one', 'two', 'three']) {
    await aliceClient.publish(finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: text }, aliceSk))
  }
  await eventually(() => seen.length === 3, { what: 'three events at Bob' })
  const owedUnits = BigInt(PRICES.subscription + 3 * PRICES.event_delivered)

  // Bob signs a claim for what he owes; Alice verifies and credits it: both ledgers net to 0.
  const [a, b] = await eventually(async () => {
    const [a, b] = [await alice.status(), await bob.status()]
    const ain = a.channels.find((c) => c.direction === 'inbound')
    return ain && BigInt(ain.claimed) === owedUnits * WEI_PER_UNIT && a.peers[0].balance === 0 && b.peers[0].balance === 0 && [a, b]
  }, { what: 'claim issued, verified and credited', timeoutMs: 30000 })
  const inbound = a.channels.find((c) => c.direction === 'inbound')
  const outbound = b.channels.find((c) => c.direction === 'outbound')
  assert.equal(inbound.channel_id, outbound.channel_id)
  assert.equal(outbound.claimed, inbound.claimed)
  assert.equal(outbound.recipient.toLowerCase(), aliceEvm.toLowerCase())

  // Alice restarts: the claim is not lost and not counted twice (Bob's resend is idempotent).
  await alice.stop(); await alice.start()
  await eventually(async () => (await bob.status()).peers.find((p) => p.pubkey === alicePk)?.connected, { what: 'link back' })
  const again = await alice.status()
  assert.equal(again.channels.find((c) => c.direction === 'inbound').claimed, inbound.claimed)
  assert.equal(again.peers[0].balance, 0)

  // Alice closes on chain with the highest claim; Bob's node pulls its refund.
  const { stdout } = await promisify(execFile)(BIN, ['--data-dir', alice.dataDir, 'settle-close', '--peer', bobPk])
  assert.deepEqual(JSON.parse(stdout).closed, [inbound.channel_id])
  await eventually(async () => (await bob.status()).channels.find((c) => c.channel_id === outbound.channel_id)?.status === 'refunded', { what: 'Bob pulled the refund', timeoutMs: 30000 })

  const claimed = BigInt(inbound.claimed)
  const aliceDelta = (await anvil.balance(aliceEvm)) - start.alice
  const bobDelta = (await anvil.balance(bobEvm)) - start.bob
  assert.equal(aliceDelta, claimed - (await anvil.gasPaidBy(aliceEvm)), 'Alice gained the claim, less her close gas')
  assert.equal(bobDelta, -claimed - (await anvil.gasPaidBy(bobEvm)), 'Bob paid the claim, plus his open and refund gas')
  aliceClient.close(); bobClient.close()
})
