// Issue 3, interop: the node against the Interledger JS reference stack (npm, pinned by
// package-lock.json): ilp-plugin-btp, ilp-protocol-stream, ilp-protocol-ildcp, ilp-connector.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { NodeProcess, eventually, BIN, stopAll } from '../system/lib/harness.mjs'
import { JsProcess, freePort } from './lib.mjs'

const procs = []
after(() => stopAll(procs))
const track = (p) => { procs.push(p); return p }

const account = (status, id) => status.accounts.find((a) => a.id === id)

test('JS STREAM client over ilp-plugin-btp pays our node (BTP server, IL-DCP parent, STREAM receiver via SPSP)', async () => {
  const node = track(new NodeProcess('rust-receiver', { config: { accounts: [{ id: 'js', relation: 'child', auth_token: 'shh' }] } }))
  await node.start()
  // 40 kB of data: more than the 16 384 bytes a STREAM sender may send before the receiver's
  // StreamMaxData, so flow control is exercised.
  const message = 'hello from js ' + 'x'.repeat(40000)
  const client = track(JsProcess.role('js-client', 'client', [`btp+ws://:shh@${node.listen.peer}`, `http://${node.listen.relay}/.well-known/pay`, 5000, message]))
  const connected = await client.waitFor((e) => e.event === 'client_connected', 'connected')
  assert.match(connected.source, new RegExp(`^${(await node.status()).node.ilp_address.replaceAll('.', '\\.')}\\.js`), 'the client got its address from our node by IL-DCP')
  const result = await client.waitFor((e) => e.event === 'result', 'payment result')
  assert.equal(result.totalSent, '5000')
  const status = await eventually(async () => {
    const s = await node.status()
    const r = Object.values(s.spsp_receipts)[0]
    return r && r.total_received === 5000 && r.bytes_received === message.length && s
  }, { what: 'receipt of 5000 and 40 kB of data' })
  assert.equal(Object.values(status.spsp_receipts)[0].data, message.slice(0, 4096), 'the bytes arrived in order')
  assert.equal(account(status, 'js').balance, 5000, 'the child account is credited the Prepare amounts')
})

test('our node (BTP client, STREAM sender) pays a JS STREAM server', async () => {
  const [btpPort, httpPort] = [await freePort(), await freePort()]
  const server = track(JsProcess.role('js-server', 'server', [btpPort, httpPort], { BTP_SECRET: 'shh' }))
  await server.waitFor((e) => e.event === 'listening', 'listening')
  const node = track(new NodeProcess('rust-sender', { config: { accounts: [{ id: 'jsparent', relation: 'parent', url: `btp+ws://:shh@127.0.0.1:${btpPort}` }] } }))
  await node.start()
  await server.waitFor((e) => e.event === 'ready', 'server ready (a BTP client authenticated)')
  const message = 'hello from rust ' + 'y'.repeat(40000) // over the JS receiver's initial 16 384-byte window
  const { stdout } = await promisify(execFile)(BIN, ['--data-dir', node.dataDir, 'pay', '--spsp', `http://127.0.0.1:${httpPort}/.well-known/pay`, '--amount', '4000', '--data', message])
  const paid = JSON.parse(stdout)
  assert.equal(paid.outcome.delivered, 4000)
  await eventually(() => server.sum('money') === 4000n, { what: 'JS server received 4000' })
  const received = () => server.events.filter((e) => e.event === 'data').map((e) => e.utf8).join('')
  await eventually(() => received().length === message.length, { what: 'JS server received all 40 kB' })
  assert.equal(received(), message)
  assert.ok(server.events.some((e) => e.event === 'ildcp_served'), 'our node asked its parent for an address (IL-DCP)')
  assert.equal(account(await node.status(), 'jsparent').balance, -4000)
})

test('a JS sender pays a JS receiver through our node acting as connector (fee, F08 max packet amount)', async () => {
  const httpPort = await freePort()
  const node = track(new NodeProcess('rust-connector', {
    config: {
      fee: { fixed: 0, basis_points: 100 },
      accounts: [
        { id: 'alice', relation: 'child', auth_token: 'alice_secret', max_packet_amount: 1000 },
        { id: 'bob', relation: 'child', auth_token: 'bob_secret' }
      ]
    }
  }))
  await node.start()
  const receiver = track(JsProcess.role('js-receiver', 'child-server', [`btp+ws://:bob_secret@${node.listen.peer}`, httpPort]))
  const ready = await receiver.waitFor((e) => e.event === 'ready', 'receiver ready')
  assert.equal(ready.address, `${(await node.status()).node.ilp_address}.bob`, 'the receiver got <our address>.bob by IL-DCP')
  await receiver.waitFor((e) => e.event === 'spsp_listening', 'SPSP up')
  const sender = track(JsProcess.role('js-sender', 'client', [`btp+ws://:alice_secret@${node.listen.peer}`, `http://127.0.0.1:${httpPort}/.well-known/pay`, 5000, 'via rust']))
  const result = await sender.waitFor((e) => e.event === 'result', 'payment result')
  assert.equal(result.totalSent, '5000')
  await eventually(() => receiver.sum('money') === 4950n, { what: 'receiver got 5000 minus the 1% fee' })
  const s = await eventually(async () => {
    const s = await node.status()
    return account(s, 'alice')?.balance === 5000 && account(s, 'bob')?.balance === -4950 && s
  }, { what: 'balances +5000 / -4950' })
  assert.equal(account(s, 'alice').balance + account(s, 'bob').balance, 50, 'the fee stays with the connector')
})
