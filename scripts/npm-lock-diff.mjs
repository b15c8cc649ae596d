#!/usr/bin/env node
// Compare a committed package-lock.json with one npm just resolved from the same package.json.
//   node scripts/npm-lock-diff.mjs <committed-lock> <resolved-lock>
// Exit 0: the locks pin the same packages for this platform. Entries that differ only by
//   other-platform optional packages (an `optional` entry whose os/cpu/libc exclude this
//   machine) are listed on stderr as notes: the registry served a different set of those builds
//   on the day the lock was written, which does not change what is installed here.
// Exit 1: the committed lock is out of date (a package, version, integrity or dependency range
//   differs, or a package for this platform is missing); every difference is printed.
// Exit 2: usage or unreadable input.
//   node scripts/npm-lock-diff.mjs --installed <committed-lock> <node_modules/.package-lock.json>
// Checks what npm installed against the committed lock: every installed package is pinned there
// with the same version and integrity, and every package the lock pins for this platform is
// installed. Exit 1 on any difference.
import { readFileSync } from 'node:fs';

const installedMode = process.argv[2] === '--installed';
const [committedPath, resolvedPath] = process.argv.slice(installedMode ? 3 : 2);
if (!committedPath || !resolvedPath) {
  console.error('usage: npm-lock-diff.mjs <committed-lock> <resolved-lock>');
  process.exit(2);
}

function load(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    console.error(`cannot read ${path}: ${e.message}`);
    process.exit(2);
  }
}

/** This machine's libc as npm names it ("glibc" or "musl"), or undefined off Linux. */
function libc() {
  if (process.platform !== 'linux') return undefined;
  const header = process.report?.getReport?.().header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** npm's rule for `os`/`cpu`/`libc` lists: a name allows, a `!name` excludes. */
function allows(list, value) {
  if (!Array.isArray(list) || list.length === 0) return true;
  if (value === undefined) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((x) => !x.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}

/** True when npm would skip this entry on this machine (an optional build for another platform). */
function otherPlatformOptional(entry) {
  if (!entry.optional) return false;
  return !(
    allows(entry.os, process.platform) &&
    allows(entry.cpu, process.arch) &&
    allows(entry.libc, libc())
  );
}

const committed = load(committedPath);
const resolved = load(resolvedPath);
if (installedMode) checkInstalled(committed.packages ?? {}, resolved.packages ?? {});
const stale = [];
const notes = [];

if (committed.lockfileVersion !== resolved.lockfileVersion) {
  stale.push(`lockfileVersion ${committed.lockfileVersion} → ${resolved.lockfileVersion}`);
}
const a = committed.packages ?? {};
const b = resolved.packages ?? {};
for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
  const name = key === '' ? 'package.json' : key.replace(/^.*node_modules\//, '');
  if (!(key in b)) {
    if (otherPlatformOptional(a[key])) notes.push(`${name}: in the lock, not served by the registry now`);
    else stale.push(`${name}: in the lock but no longer needed`);
  } else if (!(key in a)) {
    if (otherPlatformOptional(b[key])) notes.push(`${name}@${b[key].version}: served now, missing from the lock`);
    else stale.push(`${name}@${b[key].version}: missing from the lock`);
  } else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
    const fields = Object.keys({ ...a[key], ...b[key] }).filter(
      (f) => JSON.stringify(a[key][f]) !== JSON.stringify(b[key][f]),
    );
    stale.push(`${name}: ${fields.join(', ')} differ (lock ${a[key].version ?? ''}, resolved ${b[key].version ?? ''})`);
  }
}

for (const n of notes) console.error(`   note: other-platform optional package ${n}`);
if (stale.length) {
  for (const s of stale) console.error(`   stale: ${s}`);
  process.exit(1);
}

/** `--installed`: the installed tree is exactly the lock's packages for this platform. */
function checkInstalled(lock, installed) {
  const wrong = [];
  for (const [key, entry] of Object.entries(installed)) {
    const pinned = lock[key];
    if (!pinned) wrong.push(`${key}@${entry.version}: installed but not in the lock`);
    else if (pinned.version !== entry.version || pinned.integrity !== entry.integrity)
      wrong.push(`${key}: installed ${entry.version}, lock pins ${pinned.version}`);
  }
  for (const [key, entry] of Object.entries(lock)) {
    if (key === '' || key in installed || otherPlatformOptional(entry)) continue;
    if (entry.dev || entry.link) continue;
    wrong.push(`${key}@${entry.version}: pinned for this platform but not installed`);
  }
  for (const w of wrong) console.error(`   mismatch: ${w}`);
  process.exit(wrong.length ? 1 : 0);
}
