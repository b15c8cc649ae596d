#!/usr/bin/env node
// Compiles contracts/src/*.sol with the pinned solc-js (npm `solc`, see package.json) through the
// standard-JSON API and writes out/<Contract>.json = {abi, bytecode, deployedBytecode}.
//
//   node build.js          write the artifacts
//   node build.js --check  recompile and exit 1 if a committed artifact differs (nothing is written)
//
// Output is deterministic: fixed settings, sorted sources, metadata hash disabled
// (`bytecodeHash: "none"`), pretty-printed JSON with a fixed key order.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = __dirname;
const SRC_DIR = path.join(ROOT, 'src');
const OUT_DIR = path.join(ROOT, 'out');
const NODE_MODULES = path.join(ROOT, 'node_modules');
// Contracts from src/ that get an artifact (others in src/ are compiled but not exported).
const EXPORTED = ['UnidirectionalChannel'];
const EXPECTED_SOLC = '0.8.37';

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none', appendCBOR: true },
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
};

function fail(msg) {
  console.error(`build.js: ${msg}`);
  process.exit(1);
}

function listSources(dir, prefix) {
  const out = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const rel = `${prefix}/${name}`;
    if (fs.statSync(full).isDirectory()) out.push(...listSources(full, rel));
    else if (name.endsWith('.sol')) out.push(rel);
  }
  return out;
}

// Resolves imports: `@openzeppelin/...` (and any package) from node_modules/, anything else
// relative to the contracts/ directory (solc already normalises relative imports to `src/...`).
function findImports(importPath) {
  const candidates = [path.join(NODE_MODULES, importPath), path.join(ROOT, importPath)];
  for (const file of candidates) {
    const resolved = path.resolve(file);
    if (!resolved.startsWith(ROOT + path.sep)) continue;
    if (fs.existsSync(resolved)) return { contents: fs.readFileSync(resolved, 'utf8') };
  }
  return { error: `File not found: ${importPath} (run npm ci in contracts/)` };
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_SOLC + '+')) fail(`solc-js ${version} is not the pinned ${EXPECTED_SOLC}; run npm ci`);

  const sources = {};
  for (const rel of listSources(SRC_DIR, 'src')) {
    sources[rel] = { content: fs.readFileSync(path.join(ROOT, rel), 'utf8') };
  }
  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  const diagnostics = output.errors || [];
  const errors = diagnostics.filter((e) => e.severity === 'error');
  // Known and benign: solc warns (2394) on every `tstore`; the only one is OpenZeppelin's
  // ReentrancyGuardTransient, which clears its slot at the end of each call.
  const benign = (e) =>
    e.errorCode === '2394' && e.sourceLocation && e.sourceLocation.file.startsWith('@openzeppelin/');
  for (const e of diagnostics) if (!benign(e)) console.error(e.formattedMessage || e.message);
  if (errors.length) fail(`${errors.length} compilation error(s)`);

  const artifacts = {};
  for (const name of EXPORTED) {
    const file = `src/${name}.sol`;
    const c = output.contracts && output.contracts[file] && output.contracts[file][name];
    if (!c) fail(`contract ${name} not found in ${file}`);
    const artifact = {
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    artifacts[name] = JSON.stringify(artifact, null, 2) + '\n';
  }
  return { version, artifacts };
}

function describeDiff(name, expected, actualText) {
  let actual;
  try {
    actual = JSON.parse(actualText);
  } catch (e) {
    return `out/${name}.json is not valid JSON`;
  }
  const exp = JSON.parse(expected);
  const fields = ['abi', 'bytecode', 'deployedBytecode'].filter(
    (k) => JSON.stringify(exp[k]) !== JSON.stringify(actual[k]),
  );
  if (fields.length) return `out/${name}.json differs in: ${fields.join(', ')}`;
  return `out/${name}.json differs in formatting only`;
}

function main() {
  const check = process.argv.includes('--check');
  const t0 = Date.now();
  const { version, artifacts } = compile();
  const secs = ((Date.now() - t0) / 1000).toFixed(2);

  if (!check) {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    for (const [name, text] of Object.entries(artifacts)) {
      fs.writeFileSync(path.join(OUT_DIR, `${name}.json`), text);
      const a = JSON.parse(text);
      console.log(
        `wrote out/${name}.json (solc ${version}, init ${(a.bytecode.length - 2) / 2} B, ` +
          `runtime ${(a.deployedBytecode.length - 2) / 2} B, ${secs} s)`,
      );
    }
    return;
  }

  const problems = [];
  for (const [name, text] of Object.entries(artifacts)) {
    const file = path.join(OUT_DIR, `${name}.json`);
    if (!fs.existsSync(file)) {
      problems.push(`out/${name}.json is missing`);
      continue;
    }
    const committed = fs.readFileSync(file, 'utf8');
    if (committed !== text) problems.push(describeDiff(name, text, committed));
  }
  if (problems.length) {
    for (const p of problems) console.error(`build.js --check: ${p}`);
    fail('artifacts are stale; run `node build.js` in contracts/ and commit out/');
  }
  console.log(`build.js --check: ${Object.keys(artifacts).map((n) => `out/${n}.json`).join(', ')} up to date (solc ${version}, ${secs} s)`);
}

main();
