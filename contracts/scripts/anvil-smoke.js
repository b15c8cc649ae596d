#!/usr/bin/env node
// End-to-end check of the committed artifact on a real node: starts the pinned anvil, deploys
// out/UnidirectionalChannel.json over JSON-RPC, runs open -> topUp -> withdraw -> close ->
// claimRefund and open -> reclaim with anvil's dev accounts, signs claims with the wallet-standard
// `eth_signTypedData_v4` (so any EIP-712 wallet/signer produces what the contract accepts), checks
// balances and the on-chain digest, and prints each transaction's gasUsed (L2 execution gas incl.
// the 21 000 intrinsic; Base adds an L1 data fee on top). No dependencies beyond Node.
'use strict';

const { spawn } = require('child_process');
const path = require('path');
const net = require('net');

const ROOT = path.join(__dirname, '..');
// The platform package's binary (as evm.md's ANVIL_BIN); the npm wrapper also works but adds a
// Node process in between.
const fs = require('fs');
const FOUNDRY = path.join(ROOT, 'node_modules', '@foundry-rs');
const ANVIL = (fs.existsSync(FOUNDRY) ? fs.readdirSync(FOUNDRY) : [])
  .filter((d) => d.startsWith('anvil-'))
  .map((d) => path.join(FOUNDRY, d, 'bin', 'anvil'))
  .find((f) => fs.existsSync(f)) || path.join(ROOT, 'node_modules', '.bin', 'anvil');
const artifact = require(path.join(ROOT, 'out', 'UnidirectionalChannel.json'));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

let url;
let rpcId = 0;
async function rpc(method, params = []) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const hex = (n) => '0x' + BigInt(n).toString(16);
const word = (v) => BigInt(v).toString(16).padStart(64, '0');
const addrWord = (a) => a.toLowerCase().replace(/^0x/, '').padStart(64, '0');
const b32 = (h) => h.replace(/^0x/, '');

const selectors = {};
async function selector(sig) {
  if (!selectors[sig]) selectors[sig] = (await rpc('web3_sha3', ['0x' + Buffer.from(sig).toString('hex')])).slice(0, 10);
  return selectors[sig];
}
// (bytes32, uint256, bytes) calldata
function encodeClaimCall(sel, id, amount, sig) {
  const data = sig.replace(/^0x/, '');
  const len = data.length / 2;
  const padded = data.padEnd(Math.ceil(len / 32) * 64, '0');
  return sel + b32(id) + word(amount) + word(0x60) + word(len) + padded;
}

const gas = [];
async function send(from, to, data, value = 0n, label) {
  const hash = await rpc('eth_sendTransaction', [{ from, to, data, value: hex(value), gas: hex(3_000_000) }]);
  let r = null;
  for (let i = 0; i < 200 && !r; i++) {
    r = await rpc('eth_getTransactionReceipt', [hash]); // automine, but the receipt can lag under load
    if (!r) await new Promise((res) => setTimeout(res, 25));
  }
  if (!r) throw new Error(`${label}: no receipt after 5 s`);
  if (r.status !== '0x1') throw new Error(`${label}: transaction reverted`);
  if (label) gas.push([label, BigInt(r.gasUsed)]);
  r.fee = BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice);
  return r;
}
const call = (to, data) => rpc('eth_call', [{ to, data }, 'latest']);
const balance = async (a) => BigInt(await rpc('eth_getBalance', [a, 'latest']));

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

async function signClaim(signer, chainId, contract, id, amount) {
  const typed = {
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
      Claim: [
        { name: 'channelId', type: 'bytes32' },
        { name: 'cumulativeAmount', type: 'uint256' },
      ],
    },
    primaryType: 'Claim',
    domain: { name: 'BtpNipsChannel', version: '1', chainId, verifyingContract: contract },
    message: { channelId: id, cumulativeAmount: amount.toString() },
  };
  return rpc('eth_signTypedData_v4', [signer, typed]);
}

async function main() {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const anvil = spawn(ANVIL, ['--host', '127.0.0.1', '--port', String(port), '--chain-id', '84532'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () => anvil.kill('SIGTERM');
  process.on('exit', stop);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('anvil did not start in 10 s')), 10_000);
    anvil.stdout.on('data', (d) => d.toString().includes('Listening on') && (clearTimeout(timer), resolve()));
    anvil.on('exit', (c) => reject(new Error(`anvil exited with ${c}`)));
  });

  try {
    const [sender, recipient, other] = await rpc('eth_accounts');
    const chainId = Number(await rpc('eth_chainId'));

    const deploy = await send(sender, null, artifact.bytecode, 0n, 'deploy');
    const c = deploy.contractAddress;
    const code = await rpc('eth_getCode', [c, 'latest']);
    // (equal up to the EIP-712 immutables, which solc leaves zeroed in deployedBytecode)
    assert(code.length === artifact.deployedBytecode.length, 'on-chain runtime code has the artifact size');

    const block = await rpc('eth_getBlockByNumber', ['latest', false]);
    const expiry = BigInt(block.timestamp) + 86_400n;
    const E = 10n ** 18n;

    const openSel = await selector('open(address,address,uint256,uint64)');
    const openData = openSel + addrWord(recipient) + word(0) + word(2n * E) + word(expiry);
    const r1 = await send(sender, c, openData, 2n * E, 'open (ETH, first channel of sender)');
    const id = r1.logs[0].topics[1];
    await send(sender, c, openSel + addrWord(recipient) + word(0) + word(E) + word(expiry), E, 'open (ETH)');

    const topUpSel = await selector('topUp(bytes32,uint256,uint64)');
    await send(sender, c, topUpSel + b32(id) + word(E) + word(expiry + 3600n), E, 'topUp (ETH, extend expiry)');

    const sig1 = await signClaim(sender, chainId, c, id, E);

    const r0 = await balance(recipient);
    const w = await send(recipient, c, encodeClaimCall(await selector('withdraw(bytes32,uint256,bytes)'), id, E, sig1),
      0n, 'withdraw (ETH)');
    const sig2 = await signClaim(sender, chainId, c, id, 2n * E + E / 2n);
    const cl = await send(recipient, c,
      encodeClaimCall(await selector('close(bytes32,uint256,bytes)'), id, 2n * E + E / 2n, sig2), 0n,
      'close (ETH, after a withdraw)');
    const r1b = await balance(recipient);
    assert(r1b === r0 + 2n * E + E / 2n - w.fee - cl.fee, 'recipient balance grew by exactly the claim minus its gas');

    const owedSel = await selector('owed(address,address)');
    const owed = BigInt(await call(c, owedSel + addrWord(sender) + word(0)));
    assert(owed === E / 2n, `sender owed 0.5 ETH, got ${owed}`);
    await send(sender, c, (await selector('claimRefund(address)')) + word(0), 0n, 'claimRefund (ETH)');

    // expiry path on the second channel
    const id2 = '0x' + (await call(c, (await selector('computeChannelId(address,address,address,uint256)')) +
      addrWord(sender) + addrWord(recipient) + word(0) + word(1))).slice(2);
    await rpc('evm_setNextBlockTimestamp', [Number(expiry)]);
    await send(other, c, (await selector('reclaim(bytes32)')) + b32(id2), 0n, 'reclaim (by a third party)');
    assert(BigInt(await call(c, owedSel + addrWord(sender) + word(0))) === E, 'reclaimed 1 ETH to sender');

    console.log(`anvil ${port} chain ${chainId}: artifact deployed at ${c}; ETH lifecycle OK ` +
      `(eth_signTypedData_v4 claims accepted, balances exact)`);
    console.log('transaction gasUsed (incl. 21 000 intrinsic + calldata):');
    for (const [label, g] of gas) console.log(`  ${label.padEnd(38)} ${g.toString().padStart(9)}`);
  } finally {
    stop();
  }
}

main().catch((e) => {
  console.error('anvil-smoke: ' + e.message);
  process.exit(1);
});
