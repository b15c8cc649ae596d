// Issue 11 (5): the chain RPC goes away for a while (a TCP proxy between both nodes and anvil
// stops listening and drops its connections, as a stopped RPC server would; anvil itself keeps
// its chain). Two real nodes, Bob's paying Alice's for a subscription, settle through a channel
// whose deposit runs out during the outage:
// - while the RPC is unreachable, claims within the known deposit keep flowing off chain and
//   Bob's client keeps receiving every event;
// - the top-up the exhausted deposit needs waits, and happens once the RPC is back;
// - nothing is counted twice: the chain's deposit is what Bob recorded, the highest claim is
//   exactly what Bob owes, both ledgers end at 0, and the EVM balances move by exactly the claim.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { NodeProcess, eventually, sleep, BIN, stopAll, freePort, TcpProxy } from './lib/harness.mjs'
import { Anvil } from './lib/evm.mjs'

useWebSocketImplementation(WebSocket)

const OUTAGE_SECS = Number(process.env.CHAIN_OUTAGE_SECS ?? 60)
const BEFORE = 20
const DURING = 200
const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 1000 }
const DEPOSIT = 1500 // units: covers the subscription and the first events, not the outage's
const WEI_PER_UNIT = 10n ** 9n
const procs = []

/** The channel's deposit on chain: `channels(bytes32)` (contracts/src/UnidirectionalChannel.sol), 4th word. */
async function chainDeposit (anvil, contract, channelId) {
  const selector = bytesToHex(keccak_256(new TextEncoder().encode('channels(bytes32)'))).slice(0, 8)
  const out = await anvil.rpc('eth_call', [{ to: contract, data: '0x' + selector + channelId.replace(/^0x/, '') }, 'latest'])
  return BigInt('0x' + out.slice(2 + 3 * 64, 2 + 4 * 64))
}
after(() => stopAll(procs))

test('claims flow off chain while the RPC is down; the top-up waits for it; nothing is counted twice', async () => {
  const anvil = new Anvil(await freePort())
  procs.push(anvil)
  await anvil.ready()
  const contract = await anvil.deployChannel()
  const rpc = await new TcpProxy('rpc-proxy', Number(new URL(anvil.url).port)).start()
  procs.push(rpc)
  const settlement = { enabled: true, chain: 'anvil', rpc_url: `http://127.0.0.1:${rpc.port}`, contract, deposit: DEPOSIT, settle_threshold: 100, poll_interval_ms: 300, close_margin_secs: 3600, channel_lifetime_secs: 86400 }

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

  const bobClient = await Relay.connect(bob.relayUrl)
  const seen = new Map()
  bobClient.subscribe([{ authors: [alicePk] }], { onevent: (e) => seen.set(e.id, (seen.get(e.id) ?? 0) + 1), oneose: () => {} })
  const aliceClient = await Relay.connect(alice.relayUrl)
  let n = 0
  const publish = () => aliceClient.publish(finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: `note ${n++}` }, aliceSk))
  for (let i = 0; i < BEFORE; i++) await publish()
  await eventually(() => seen.size === BEFORE, { what: `${BEFORE} events at Bob` })
  const inboundClaim = async () => BigInt((await alice.status()).channels.find((c) => c.direction === 'inbound')?.claimed ?? 0)
  // The channel is open and claims credited: what Alice holds as claimed plus what Bob still
  // owes (under the settle threshold) is everything delivered so far.
  const owedByBob = async () => -(await bob.status()).peers.find((p) => p.pubkey === alicePk).balance
  await eventually(async () => {
    const claim = await inboundClaim()
    return claim > 0n && claim + BigInt(await owedByBob()) * WEI_PER_UNIT === BigInt(PRICES.subscription + BEFORE * PRICES.event_delivered) * WEI_PER_UNIT
  }, { what: 'the channel open and the first claims credited', timeoutMs: 30000 })
  const claimBefore = await inboundClaim()

  // The RPC goes away. Alice publishes DURING events spread over the outage.
  await rpc.cut('refuse')
  const outageStart = Date.now()
  const gap = (OUTAGE_SECS * 1000 * 0.8) / DURING
  for (let i = 0; i < DURING; i++) { await publish(); await sleep(gap) }
  await eventually(() => seen.size === BEFORE + DURING, { what: 'every event at Bob during the outage', timeoutMs: 30000 })
  const claimDuring = await inboundClaim()
  assert.ok(claimDuring > claimBefore, `claims kept flowing off chain: ${claimBefore} → ${claimDuring}`)
  assert.ok(claimDuring <= BigInt(DEPOSIT) * WEI_PER_UNIT, 'no claim beyond the deposit the chain confirmed')
  const owedDuring = await owedByBob()
  assert.ok(owedDuring > 0, 'the top-up waits for the chain: Bob owes what the deposit cannot cover')
  await sleep(Math.max(0, OUTAGE_SECS * 1000 - (Date.now() - outageStart)))
  console.log(`# outage ${Math.round((Date.now() - outageStart) / 1000)} s: claim ${claimBefore / WEI_PER_UNIT} → ${claimDuring / WEI_PER_UNIT} units off chain, Bob owed ${owedDuring} awaiting the top-up`)

  // The RPC is back: the top-up lands, the rest is claimed, both ledgers net to 0.
  await rpc.heal()
  const total = BigInt(PRICES.subscription + (BEFORE + DURING) * PRICES.event_delivered) * WEI_PER_UNIT
  await eventually(async () => {
    const [a, b] = [await alice.status(), await bob.status()]
    return (await inboundClaim()) === total && a.peers[0].balance === 0 && b.peers[0].balance === 0
  }, { what: 'the top-up and the final claim', timeoutMs: 60000 })
  const outbound = (await bob.status()).channels.find((c) => c.direction === 'outbound')
  assert.equal(await chainDeposit(anvil, contract, outbound.channel_id), BigInt(outbound.deposit), 'the chain holds exactly the deposit Bob recorded')
  assert.ok(BigInt(outbound.deposit) >= total, 'Bob recorded a deposit covering the claim')
  assert.ok([...seen.values()].every((c) => c === 1), 'every event reached Bob exactly once')

  // Close: Alice gains exactly the claim (less her gas), Bob pays exactly the claim plus his gas
  // and gets the rest of his deposits back — so no top-up was paid twice.
  const { stdout } = await promisify(execFile)(BIN, ['--data-dir', alice.dataDir, 'settle-close', '--peer', bobPk])
  assert.equal(JSON.parse(stdout).closed.length, 1)
  await eventually(async () => (await bob.status()).channels.find((c) => c.channel_id === outbound.channel_id)?.status === 'refunded', { what: 'Bob pulled the refund', timeoutMs: 30000 })
  const aliceDelta = (await anvil.balance(aliceEvm)) - start.alice
  const bobDelta = (await anvil.balance(bobEvm)) - start.bob
  assert.equal(aliceDelta, total - (await anvil.gasPaidBy(aliceEvm)), 'Alice gained the claim, less her close gas')
  assert.equal(bobDelta, -total - (await anvil.gasPaidBy(bobEvm)), 'Bob paid the claim, plus his gas; his deposits came back')
  const bobLog = bob.logs()
  assert.equal((bobLog.match(/settlement: opened channel/g) ?? []).length, 1, 'one channel opened')
  console.log(`# top-ups: ${(bobLog.match(/settlement: topped up channel/g) ?? []).length}; final claim ${total / WEI_PER_UNIT} units`)
  aliceClient.close(); bobClient.close()
})
