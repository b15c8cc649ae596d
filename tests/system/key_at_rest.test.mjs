// The node key at rest (design.md "Identity"; node/src/keys.rs): `btpnips key encrypt` seals
// an unencrypted node.key under a passphrase (argon2id + ChaCha20-Poly1305). Without the
// passphrase, or with a wrong one, the node refuses to start and says why; with it, the node
// runs under the same key: same Nostr pubkey, libp2p PeerId and EVM address.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure'
import { bytesToHex } from '@noble/hashes/utils.js'
import { BIN, NodeProcess, stopAll } from './lib/harness.mjs'

const run = promisify(execFile)
const secret = bytesToHex(generateSecretKey())
const pubkey = getPublicKey(Buffer.from(secret, 'hex'))
const PASS = 'correct horse battery staple'
const node = new NodeProcess('keyed', { secretHex: secret, env: { BTPNIPS_PASSPHRASE: PASS } })
after(() => stopAll([node]))

const cli = (args, env = {}) => run(BIN, ['--data-dir', node.dataDir, ...args], { env: { ...process.env, BTPNIPS_PASSPHRASE: '', ...env } })
async function refusedStart (env) {
  const { BTPNIPS_PASSPHRASE, ...rest } = process.env
  const err = await run(BIN, ['--data-dir', node.dataDir, 'run'], { env: { ...rest, ...env }, timeout: 30000 }).then(() => null, (e) => e)
  assert.ok(err, 'the node must not start')
  assert.notEqual(err.code, 0)
  return err.stderr
}

test('key encrypt seals node.key; no or a wrong passphrase stops the node with a reason; the right one runs it', async () => {
  node.writeConfig()
  const keyFile = path.join(node.dataDir, 'node.key')
  assert.equal(readFileSync(keyFile, 'utf8').trim(), secret, 'starts unencrypted (imported)')

  const { stdout } = await cli(['key', 'encrypt'], { BTPNIPS_PASSPHRASE: PASS })
  assert.match(stdout, new RegExp(`encrypted \\(pubkey ${pubkey}\\)`))
  const sealed = JSON.parse(readFileSync(keyFile, 'utf8'))
  assert.equal(sealed.kdf, 'argon2id')
  assert.equal(sealed.cipher, 'chacha20poly1305')
  assert.equal(sealed.pubkey, pubkey)
  assert.ok(!readFileSync(keyFile, 'utf8').includes(secret), 'the secret is not in the file')
  await assert.rejects(cli(['key', 'encrypt'], { BTPNIPS_PASSPHRASE: PASS }), /already encrypted/)

  assert.match(await refusedStart({}), /node key is encrypted: set BTPNIPS_PASSPHRASE/)
  assert.match(await refusedStart({ BTPNIPS_PASSPHRASE: 'wrong' }), /wrong passphrase/)

  await node.start() // BTPNIPS_PASSPHRASE from the NodeProcess env
  const s = await node.status()
  assert.equal(s.node.pubkey, pubkey, 'same Nostr pubkey')
  assert.equal(s.node.key_at_rest, 'encrypted')
  const shown = JSON.parse((await cli(['key', 'show'], { BTPNIPS_PASSPHRASE: PASS })).stdout)
  assert.equal(shown.pubkey, pubkey)
  assert.equal(shown.peer_id, s.node.peer_id, 'same libp2p PeerId')
  assert.equal(shown.evm_address, s.node.evm_address, 'same EVM address')
})
