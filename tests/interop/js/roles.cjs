'use strict'
// The JS reference stack in the roles the interop tests need. One JSON object per line on
// stdout, so the test can follow what happened.
//   server <btpPort> <httpPort>          BTP listener + IL-DCP parent + STREAM server + SPSP
//   child-server <btpUrl> <httpPort>     BTP client (child, address by IL-DCP) + STREAM server + SPSP
//   client <btpUrl> <spspUrl> <amount> <message>
//                                        BTP client + STREAM sender (IL-DCP from the other side)
const http = require('http')
const BtpPlugin = require('ilp-plugin-btp')
const IlpPacket = require('ilp-packet')
const ILDCP = require('ilp-protocol-ildcp')
const { createServer, createConnection } = require('ilp-protocol-stream')

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const ASSET = { assetCode: process.env.ASSET_CODE || 'ETH', assetScale: Number(process.env.ASSET_SCALE || 9) }

// A BTP listener has no connector behind it to answer IL-DCP: answer `peer.config` from the
// other side of the link here, and our own IL-DCP request locally.
function withIldcp (plugin, selfConfig, childConfig) {
  let handler
  plugin.registerDataHandler(async (data) => {
    if (data[0] === IlpPacket.Type.TYPE_ILP_PREPARE && IlpPacket.deserializeIlpPrepare(data).destination === 'peer.config') {
      out({ event: 'ildcp_served', clientAddress: childConfig.clientAddress })
      return ILDCP.serve({ requestPacket: data, handler: async () => childConfig, serverAddress: selfConfig.clientAddress })
    }
    if (!handler) throw new Error('no data handler')
    return handler(data)
  })
  return {
    connect: (...a) => plugin.connect(...a),
    disconnect: (...a) => plugin.disconnect(...a),
    isConnected: () => plugin.isConnected(),
    sendMoney: (a) => plugin.sendMoney(a),
    registerMoneyHandler: (h) => plugin.registerMoneyHandler(h),
    deregisterMoneyHandler: () => plugin.deregisterMoneyHandler(),
    registerDataHandler: (h) => { handler = h },
    deregisterDataHandler: () => { handler = undefined },
    sendData: async (data) => {
      if (data[0] === IlpPacket.Type.TYPE_ILP_PREPARE && IlpPacket.deserializeIlpPrepare(data).destination === 'peer.config') {
        return ILDCP.serializeIldcpResponse(selfConfig)
      }
      return plugin.sendData(data)
    }
  }
}

function receiveAll (server) {
  server.on('connection', (conn) => {
    out({ event: 'connection', destination: conn.destinationAccount })
    conn.on('stream', (stream) => {
      stream.setReceiveMax('18446744073709551615')
      stream.on('money', (amount) => out({ event: 'money', streamId: stream.id, amount, total: stream.totalReceived }))
      stream.on('data', (chunk) => out({ event: 'data', streamId: stream.id, utf8: chunk.toString('utf8'), len: chunk.length }))
    })
    conn.on('close', () => out({ event: 'connection_close', totalReceived: conn.totalReceived }))
    conn.on('error', (e) => out({ event: 'connection_error', message: e.message }))
  })
}

function serveSpsp (port, holder) {
  http.createServer((req, res) => {
    if (!holder.server) { res.writeHead(503); return res.end() }
    const { destinationAccount, sharedSecret } = holder.server.generateAddressAndSecret()
    res.writeHead(200, { 'Content-Type': 'application/spsp4+json', 'Cache-Control': 'no-cache' })
    res.end(JSON.stringify({ destination_account: destinationAccount, shared_secret: sharedSecret.toString('base64') }))
  }).listen(port, '127.0.0.1', () => out({ event: 'spsp_listening', url: `http://127.0.0.1:${port}/.well-known/pay` }))
}

function getJson (url) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { Accept: 'application/spsp4+json, application/spsp+json' } }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error('HTTP ' + res.statusCode)))
    }).on('error', reject)
  })
}

async function main () {
  const [role, a1, a2, a3, a4] = process.argv.slice(2)
  if (role === 'server') {
    const holder = {}
    serveSpsp(Number(a2), holder)
    const selfConfig = { clientAddress: process.env.SELF_ADDR || 'test.jsparent', ...ASSET }
    const childConfig = { clientAddress: process.env.CHILD_ADDR || 'test.jsparent.child', ...ASSET }
    const plugin = new BtpPlugin({ listener: { port: Number(a1), secret: process.env.BTP_SECRET || 'shh' } })
    out({ event: 'listening', btpPort: Number(a1) })
    holder.server = await createServer({ idleTimeout: 120000, plugin: withIldcp(plugin, selfConfig, childConfig) })
    receiveAll(holder.server)
    out({ event: 'ready' })
  } else if (role === 'child-server') {
    const holder = {}
    holder.server = await createServer({ idleTimeout: 120000, plugin: new BtpPlugin({ server: a1 }) })
    receiveAll(holder.server)
    out({ event: 'ready', address: holder.server.pool.getServerAccount() })
    serveSpsp(Number(a2), holder)
  } else if (role === 'client') {
    const plugin = new BtpPlugin({ server: a1 })
    await plugin.connect()
    let spsp
    for (let i = 0; i < 100 && !spsp; i++) {
      spsp = await getJson(a2).catch(() => null)
      if (!spsp) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    if (!spsp) throw new Error('no SPSP answer from ' + a2)
    const t0 = Date.now()
    const conn = await createConnection({ plugin, destinationAccount: spsp.destination_account, sharedSecret: Buffer.from(spsp.shared_secret, 'base64') })
    out({ event: 'client_connected', source: conn.sourceAccount, destination: conn.destinationAccount })
    const stream = conn.createStream()
    stream.write(Buffer.from(a4 || 'hello', 'utf8'))
    await stream.sendTotal(a3 || '1000')
    await new Promise((resolve) => setTimeout(resolve, 200)) // let the data frame go out
    out({ event: 'result', totalSent: stream.totalSent, ms: Date.now() - t0 })
    await conn.end()
    process.exit(0)
  } else {
    throw new Error('unknown role ' + role)
  }
}
main().catch((e) => { out({ event: 'fatal', message: e.message, stack: e.stack }); process.exit(1) })
