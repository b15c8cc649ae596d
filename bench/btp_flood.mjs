// BTP message flood (issue 11): a linked peer sends N BTP Messages (ILP Prepares to an address
// with no route) as fast as its socket takes them and never reads the answers. Prints the node's
// RSS before, its peak during the flood, how many Messages the socket took before the node
// closed the link (`limits.peer_outbound_messages`) and whether the node still serves a new link
// afterwards. Asserts nothing; not a timed test.
//
//   cargo build --release -p btpnips
//   ./scripts/npm-ci.sh tests/interop
//   BTPNIPS_BIN=target/release/btpnips node bench/btp_flood.mjs --messages 200000
//
// The peer authenticates as a configured child account (token auth, RFC 23 §Authentication),
// as the JS BTP plugin does; a btpnips peer proving its key gets the same link.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { NodeProcess, sleep } from '../tests/system/lib/harness.mjs'

const req = createRequire(new URL('../tests/interop/package.json', import.meta.url))
const WebSocket = req('ws')
const BtpPacket = createRequire(req.resolve('ilp-plugin-btp'))('btp-packet')
const IlpPacket = req('ilp-packet')

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    watch: { type: 'string', default: '10' }
  }
})
const n = Number(opts.messages)
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

const node = new NodeProcess('flood', {
  config: { p2p: { enabled: false }, accounts: [{ id: 'flood', relation: 'child', auth_token: 'shh' }] },
  env: { BTPNIPS_LOG: 'warn' }
})
await node.start()
const pid = node.proc.pid

/** Open a link and authenticate; resolves with the socket once the auth Response came. */
async function link () {
  const ws = new WebSocket(node.peerUrl, { perMessageDeflate: false })
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  const auth = BtpPacket.serialize({
    type: BtpPacket.TYPE_MESSAGE,
    requestId: 1,
    data: {
      protocolData: [
        { protocolName: 'auth', contentType: BtpPacket.MIME_APPLICATION_OCTET_STREAM, data: Buffer.alloc(0) },
        { protocolName: 'auth_username', contentType: BtpPacket.MIME_TEXT_PLAIN_UTF8, data: Buffer.from('') },
        { protocolName: 'auth_token', contentType: BtpPacket.MIME_TEXT_PLAIN_UTF8, data: Buffer.from('shh') }
      ]
    }
  })
  const answered = new Promise((resolve) => ws.once('message', (d) => resolve(BtpPacket.deserialize(d))))
  ws.send(auth)
  const answer = await answered
  if (answer.type !== BtpPacket.TYPE_RESPONSE) throw new Error(`auth refused: ${JSON.stringify(answer)}`)
  return ws
}

const prepare = IlpPacket.serializeIlpPrepare({
  amount: '0',
  executionCondition: Buffer.alloc(32, 1),
  expiresAt: new Date(Date.now() + 600_000),
  destination: 'test.nowhere.at.all',
  data: Buffer.alloc(0)
})
const message = (id) => BtpPacket.serialize({
  type: BtpPacket.TYPE_MESSAGE,
  requestId: id,
  data: { protocolData: [{ protocolName: 'ilp', contentType: BtpPacket.MIME_APPLICATION_OCTET_STREAM, data: prepare }] }
})

const ws = await link()
await sleep(1000)
const before = rssMiB(pid)
ws._socket.pause() // never read an answer
let closedAt = null
ws.on('close', () => { closedAt ??= Date.now() })
ws.on('error', () => {})
const started = Date.now()
let sent = 0
let peak = before
let stalled = false
while (sent < n && closedAt === null) {
  // Write while the socket takes it; wait for the kernel buffer to drain when it is full.
  ws.send(message(sent + 2))
  sent++
  if (ws.bufferedAmount > 1 << 20 || sent % 5000 === 0) {
    peak = Math.max(peak, rssMiB(pid))
    const waitUntil = Date.now() + 5000
    while (ws.bufferedAmount > 1 << 18 && closedAt === null && Date.now() < waitUntil) await sleep(5)
    if (ws.bufferedAmount > 1 << 18) { stalled = true; break } // the node stopped reading: backpressure
  }
}
const floodMs = Date.now() - started
for (let t = 0; t < Number(opts.watch) * 4 && closedAt === null; t++) {
  await sleep(250)
  peak = Math.max(peak, rssMiB(pid))
}
ws.terminate()
await sleep(1000)
const after = rssMiB(pid)
let healthy = 'no'
try {
  const again = await link()
  healthy = 'yes'
  again.close()
} catch (e) {
  healthy = `no (${e.message})`
}
console.log(`flood: ${sent} of ${n} BTP Messages written in ${(floodMs / 1000).toFixed(1)} s, answers never read${stalled ? '; then the node stopped reading (backpressure: the socket took nothing for 5 s)' : ''}`)
console.log(`node RSS before: ${before.toFixed(1)} MiB; peak: ${peak.toFixed(1)} MiB (+${(peak - before).toFixed(1)} MiB); after the link ended: ${after.toFixed(1)} MiB`)
console.log(`link closed by the node: ${closedAt === null ? 'no' : `after ${((closedAt - started) / 1000).toFixed(1)} s`}; a new link is served: ${healthy}`)
await node.stop()
