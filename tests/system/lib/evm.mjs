// A real EVM for the settlement tests: anvil (npm @foundry-rs/anvil, pinned in contracts/),
// the channel contract deployed from its committed artifact, and balance/gas accounting.
import { spawn } from 'node:child_process'
import { readFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { repoRoot, eventually } from './harness.mjs'

export const ANVIL_BIN = process.env.ANVIL_BIN ?? path.join(repoRoot, 'contracts', 'node_modules', '@foundry-rs', 'anvil-linux-amd64', 'bin', 'anvil')
const ARTIFACT = path.join(repoRoot, 'contracts', 'out', 'UnidirectionalChannel.json')

export class Anvil {
  constructor (port) {
    if (!existsSync(ANVIL_BIN)) throw new Error(`anvil not found at ${ANVIL_BIN}: run npm ci in contracts/ (scripts/test.sh does)`)
    this.name = 'anvil'
    this.url = `http://127.0.0.1:${port}`
    this.proc = spawn(ANVIL_BIN, ['--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.out = ''
    this.proc.stdout.on('data', (d) => { this.out += d })
    this.proc.stderr.on('data', (d) => { this.out += d })
  }

  async ready () { await eventually(() => this.out.includes('Listening on'), { what: 'anvil to listen' }) }

  async rpc (method, params = []) {
    const res = await fetch(this.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
    const body = await res.json()
    if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`)
    return body.result
  }

  /** Deploy the committed channel contract from anvil's first (unlocked) dev account. */
  async deployChannel () {
    const { bytecode } = JSON.parse(readFileSync(ARTIFACT, 'utf8'))
    const [from] = await this.rpc('eth_accounts')
    const hash = await this.rpc('eth_sendTransaction', [{ from, data: bytecode, gas: '0x' + (5_000_000).toString(16) }])
    const receipt = await eventually(() => this.rpc('eth_getTransactionReceipt', [hash]), { what: 'deploy receipt' })
    return receipt.contractAddress
  }

  async setBalance (address, wei) { await this.rpc('anvil_setBalance', [address, '0x' + wei.toString(16)]) }
  async balance (address) { return BigInt(await this.rpc('eth_getBalance', [address, 'latest'])) }

  /** Gas paid by `address` over all blocks so far (gasUsed × effectiveGasPrice). */
  async gasPaidBy (address) {
    const latest = Number(BigInt(await this.rpc('eth_blockNumber')))
    let total = 0n
    for (let n = 0; n <= latest; n++) {
      const block = await this.rpc('eth_getBlockByNumber', ['0x' + n.toString(16), true])
      for (const tx of block.transactions) {
        if (tx.from.toLowerCase() !== address.toLowerCase()) continue
        const r = await this.rpc('eth_getTransactionReceipt', [tx.hash])
        total += BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice)
      }
    }
    return total
  }

  stop () { this.proc.kill('SIGKILL') }
}
