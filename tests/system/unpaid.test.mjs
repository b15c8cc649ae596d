// Issue 10 (b): a subscriber whose node stops paying. P lets a peer owe it at most 1 500 units
// unsettled (`default_credit_limit`); F's node follows P, pays the REQ (1 000) and then for
// delivered notes until its debt reaches the limit: from there P refuses F's payments (T04), so
// F stops paying. P must pause delivery at its delivery credit (never deliver more than the credit
// unpaid), close the subscription only after its grace time (3 s here) with
// CLOSED "payment-required: …", and F's node must pass that CLOSED on to its owner's client and
// show the reason in its status, instead of going silent.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { generateSecretKey, getPublicKey, finalizeEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { bytesToHex } from '@noble/hashes/utils.js'
import { NodeProcess, eventually, stopAll } from './lib/harness.mjs'

useWebSocketImplementation(WebSocket)

const PRICES = { subscription: 1000, subscription_period_secs: 86400, event_delivered: 10, delivery_credit: 100, delivery_grace_secs: 3 }
const LIMIT = 1500
const NOTES = 200
const [pSk, fSk] = [generateSecretKey(), generateSecretKey()]
const [pPk, fPk] = [getPublicKey(pSk), getPublicKey(fSk)]
const P = new NodeProcess('P', { secretHex: bytesToHex(pSk), config: { prices: PRICES, default_credit_limit: LIMIT } })
const F = new NodeProcess('F', { secretHex: bytesToHex(fSk) })
const clients = []

after(async () => {
  for (const c of clients) c.close()
  await stopAll([P, F])
})

const now = () => Math.floor(Date.now() / 1000)

test('a follower that stops paying is paused at the credit, closed after the grace time, and its client sees CLOSED', async (t) => {
  await P.start()
  F.config.bootstrap = [{ multiaddr: P.p2pAddrs[0], pubkey: pPk }]
  await F.start()
  await eventually(async () => (await F.status()).directory.some((d) => d.pubkey === pPk), { what: "F to know P's announcement", timeoutMs: 60000 })

  const fc = await Relay.connect(F.relayUrl)
  clients.push(fc)
  const seen = new Set()
  const closedReasons = []
  fc.subscribe([{ kinds: [1], authors: [pPk] }], {
    onevent: (e) => seen.add(e.id),
    onclose: (reason) => closedReasons.push(reason)
  })
  await fc.publish(finalizeEvent({ kind: 3, created_at: now(), tags: [['p', pPk]], content: '' }, fSk))
  await eventually(async () => (await F.status()).subscriptions.some((s) => s.direction === 'outbound' && s.peer === pPk && s.status === 'active'),
    { what: "F's subscription to P", timeoutMs: 60000 })

  const pc = await Relay.connect(P.relayUrl)
  clients.push(pc)
  const base = now() - 600
  for (let i = 0; i < NOTES; i++) await pc.publish(finalizeEvent({ kind: 1, created_at: base + i, tags: [], content: `note ${i}` }, pSk))
  const t0 = Date.now()

  await eventually(() => closedReasons.length > 0, { what: "F's client to see CLOSED", timeoutMs: 120000, intervalMs: 200 })
  t.diagnostic(`F's client: ${seen.size} notes, then CLOSED ${JSON.stringify(closedReasons[0])} ${Date.now() - t0} ms after the last publish`)
  assert.match(closedReasons[0], /^payment-required: /, 'the reason keeps its machine-readable prefix')

  const ps = await P.status()
  const inbound = ps.subscriptions.find((s) => s.direction === 'inbound' && s.peer === fPk)
  assert.match(inbound.status, /^closed/, `P closed it: ${inbound.status}`)
  const unpaid = PRICES.subscription + inbound.events_delivered * PRICES.event_delivered - inbound.amount_paid
  assert.ok(unpaid > 0 && unpaid <= PRICES.delivery_credit, `P delivered at most its credit unpaid (${unpaid})`)
  assert.ok(inbound.events_delivered < NOTES, `delivery stopped: ${inbound.events_delivered} of ${NOTES}`)
  assert.ok(inbound.amount_paid <= LIMIT, `F never owed P more than the limit (${inbound.amount_paid})`)
  assert.equal(seen.size, inbound.events_delivered, "F's client got every note P delivered, and only those")

  const fs = await F.status()
  const outbound = fs.subscriptions.find((s) => s.direction === 'outbound' && s.peer === pPk)
  assert.match(outbound.status, /^closed: payment-required: /, `F's status shows why: ${outbound.status}`)
  assert.equal(outbound.amount_paid, inbound.amount_paid, 'both sides agree on what was paid')
  const pBalance = ps.accounts.reduce((s, a) => s + a.balance, 0)
  const fBalance = fs.accounts.reduce((s, a) => s + a.balance, 0)
  assert.equal(pBalance + fBalance, 0, 'balances sum to zero')
  assert.equal(pBalance, inbound.amount_paid, 'P was paid exactly what its subscription record says')
})
