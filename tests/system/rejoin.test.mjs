// The known-node list survives a restart (issue 5, docs/btp-nips.md §9 "Discovery"): a node
// that learned the network through its bootstrap peer is restarted with an empty bootstrap
// list and finds the network again from the announcements it stored (their multiaddrs go into
// Kademlia at start), with no configuration naming any peer.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { NodeProcess, eventually, stopAll } from './lib/harness.mjs'

const p2p = { kad_query_interval_secs: 2 }
const a = new NodeProcess('a', { config: { p2p } })
const b = new NodeProcess('b', { config: { p2p } })
const c = new NodeProcess('c', { config: { p2p } })
after(() => stopAll([a, b, c]))

test('a node restarted without a bootstrap list rejoins from its stored announcements', async (t) => {
  await a.start()
  const aPub = (await a.status()).node.pubkey
  b.config.bootstrap = [{ multiaddr: a.p2pAddrs[0], pubkey: aPub }]
  c.config.bootstrap = [{ multiaddr: a.p2pAddrs[0], pubkey: aPub }]
  await b.start()
  await c.start()
  const cPub = (await c.status()).node.pubkey
  await eventually(async () => (await b.status()).directory.some((d) => d.pubkey === cPub), { what: "b to hold c's announcement", timeoutMs: 30000 })

  await b.stop()
  b.config.bootstrap = []
  const t0 = Date.now()
  await b.start()
  await eventually(async () => {
    const connected = new Set((await b.status()).p2p.connected)
    return connected.has(aPub) && connected.has(cPub)
  }, { what: 'b to reconnect to a and c with no bootstrap list', timeoutMs: 30000, intervalMs: 250 })
  t.diagnostic(`b reconnected to a and c ${Date.now() - t0} ms after its restart`)
  assert.match(b.logs(), /known nodes restored from stored announcements/)
})
