// Issue 3, interop with ilp-connector (npm, pinned): routes learned over CCP both ways, a JS
// sender paying our receiver through the connector, and our node paying a JS receiver
// through it (split by the connector's max packet amount, F08).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { NodeProcess, eventually, BIN, stopAll } from '../system/lib/harness.mjs'
import { JsProcess, freePort } from './lib.mjs'

const procs = []
after(() => stopAll(procs))
const track = (p) => { procs.push(p); return p }
const btpAccount = (relation, port, secret, extra = {}) => ({
  relation, assetCode: 'ETH', assetScale: 9, plugin: 'ilp-plugin-btp', options: { listener: { port, secret } }, ...extra
})

let node, connector, receiver, receiverSpsp, jsUrl

test('our node and ilp-connector learn each other\'s routes over CCP', async () => {
  const [nodePort, jsPort, bobPort, httpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
  connector = track(JsProcess.connector({
    btpnips: btpAccount('peer', nodePort, 'node_secret', { maxPacketAmount: '1000' }),
    js: btpAccount('child', jsPort, 'js_secret'),
    bob: btpAccount('child', bobPort, 'bob_secret')
  }))
  node = track(new NodeProcess('rust-peer', { config: { accounts: [{ id: 'conn', relation: 'peer', url: `btp+ws://:node_secret@127.0.0.1:${nodePort}` }] } }))
  await node.start()
  receiver = track(JsProcess.role('js-receiver', 'child-server', [`btp+ws://:bob_secret@127.0.0.1:${bobPort}`, httpPort]))
  await receiver.waitFor((e) => e.event === 'spsp_listening', 'receiver SPSP up', 60000)
  receiverSpsp = `http://127.0.0.1:${httpPort}/.well-known/pay`
  jsUrl = `btp+ws://:js_secret@127.0.0.1:${jsPort}`
  const routes = await eventually(async () => {
    const r = (await node.status()).routes
    return r['test.conn'] === 'conn' && r
  }, { what: 'route test.conn learned from ilp-connector', timeoutMs: 60000 })
  assert.equal(routes['test.conn'], 'conn')
})

test('a JS sender pays our STREAM receiver through ilp-connector (the connector routes to us by CCP)', async () => {
  const client = track(JsProcess.role('js-client', 'client', [jsUrl, `http://${node.listen.relay}/.well-known/pay`, 3000, 'through ilp-connector']))
  const result = await client.waitFor((e) => e.event === 'result', 'payment result', 60000)
  assert.equal(result.totalSent, '3000')
  const s = await eventually(async () => {
    const s = await node.status()
    const r = Object.values(s.spsp_receipts)[0]
    return r && r.total_received === 3000 && s
  }, { what: 'our receiver got 3000', timeoutMs: 30000 })
  assert.equal(Object.values(s.spsp_receipts)[0].data, 'through ilp-connector')
  assert.equal(s.accounts.find((a) => a.id === 'conn').balance, 3000)
})

test('our node pays a JS receiver behind ilp-connector, split by its max packet amount (F08)', async () => {
  const { stdout } = await promisify(execFile)(BIN, ['--data-dir', node.dataDir, 'pay', '--spsp', receiverSpsp, '--amount', '2500', '--data', 'from rust via ilp-connector'])
  const paid = JSON.parse(stdout)
  assert.equal(paid.outcome.delivered, 2500)
  assert.equal(paid.outcome.max_packet_amount, 1000, 'learned from the F08 reject data')
  assert.equal(paid.outcome.packets, 3)
  await eventually(() => receiver.sum('money') === 2500n, { what: 'JS receiver got 2500' })
  assert.equal(receiver.events.find((e) => e.event === 'data').utf8, 'from rust via ilp-connector')
  const s = await node.status()
  assert.equal(s.accounts.find((a) => a.id === 'conn').balance, 3000 - 2500)
})
