// scripts/npm-lock-diff.mjs decides whether `scripts/npm-ci.sh` may install from a lock that
// `npm ci` refused: only when the committed and freshly resolved locks differ by other-platform
// optional builds. These cases pin that decision on synthetic locks (no registry involved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/npm-lock-diff.mjs');
const dir = mkdtempSync(join(tmpdir(), 'lockdiff-'));
const other = process.platform === 'win32' ? 'darwin' : 'win32';

function lock(packages) {
  return { name: 'x', lockfileVersion: 3, requires: true, packages: { '': { dependencies: { a: '1.0.0' } }, ...packages } };
}
const a = { 'node_modules/a': { version: '1.0.0', integrity: 'sha512-a', optionalDependencies: { 'a-here': '1.0.0', 'a-other': '1.0.0' } } };
const here = { 'node_modules/a-here': { version: '1.0.0', integrity: 'sha512-h', optional: true, os: [process.platform], cpu: [process.arch] } };
const elsewhere = { 'node_modules/a-other': { version: '1.0.0', integrity: 'sha512-o', optional: true, os: [other] } };

let n = 0;
function run(args, ...locks) {
  const paths = locks.map((l) => {
    const p = join(dir, `lock${n++}.json`);
    writeFileSync(p, JSON.stringify(l));
    return p;
  });
  const r = spawnSync(process.execPath, [script, ...args, ...paths], { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
}

test('identical locks pass', () => {
  assert.equal(run([], lock({ ...a, ...here }), lock({ ...a, ...here })).code, 0);
});

test('the registry now serves an other-platform build the lock lacks: pass, with a note', () => {
  const r = run([], lock({ ...a, ...here }), lock({ ...a, ...here, ...elsewhere }));
  assert.equal(r.code, 0);
  assert.match(r.err, /note: other-platform optional package a-other@1.0.0/);
});

test('the registry no longer serves an other-platform build the lock has: pass', () => {
  assert.equal(run([], lock({ ...a, ...here, ...elsewhere }), lock({ ...a, ...here })).code, 0);
});

test('a build for this platform missing from the lock: out of date', () => {
  const r = run([], lock({ ...a }), lock({ ...a, ...here }));
  assert.equal(r.code, 1);
  assert.match(r.err, /stale: a-here@1.0.0: missing from the lock/);
});

test('a version or integrity change: out of date', () => {
  const bumped = { 'node_modules/a': { ...a['node_modules/a'], version: '1.0.1', integrity: 'sha512-b' } };
  const r = run([], lock({ ...a, ...here }), lock({ ...bumped, ...here }));
  assert.equal(r.code, 1);
  assert.match(r.err, /stale: a: version, integrity differ \(lock 1.0.0, resolved 1.0.1\)/);
});

test('a package.json change: out of date', () => {
  const changed = lock({ ...a, ...here });
  changed.packages[''] = { dependencies: { a: '1.0.0', b: '2.0.0' } };
  assert.equal(run([], lock({ ...a, ...here }), changed).code, 1);
});

test('--installed: the tree must be exactly the lock for this platform', () => {
  const full = lock({ ...a, ...here, ...elsewhere });
  const installed = { lockfileVersion: 3, packages: { ...a, ...here } };
  assert.equal(run(['--installed'], full, installed).code, 0);
  const missing = { lockfileVersion: 3, packages: { ...a } };
  assert.match(run(['--installed'], full, missing).err, /a-here@1.0.0: pinned for this platform but not installed/);
  const extra = { lockfileVersion: 3, packages: { ...a, ...here, 'node_modules/z': { version: '9.0.0' } } };
  assert.equal(run(['--installed'], full, extra).code, 1);
});

test('negated os lists follow npm: "!<this platform>" excludes it', () => {
  const notHere = { 'node_modules/a-not': { version: '1.0.0', optional: true, os: [`!${process.platform}`] } };
  assert.equal(run([], lock({ ...a }), lock({ ...a, ...notHere })).code, 0);
  const notOther = { 'node_modules/a-not': { version: '1.0.0', optional: true, os: [`!${other}`] } };
  assert.equal(run([], lock({ ...a }), lock({ ...a, ...notOther })).code, 1);
});
