// Publishing under faults: clients that keep a window of EVENTs awaiting their OK, and the
// check of what the node really stored. Shared by the tests that break storage under load
// (disk_full, postgres_outage).
import WebSocket from 'ws'
import { finalizeEvent } from 'nostr-tools/pure'

/** One client connection that publishes with EVENTs awaiting their OK. */
function client (url) {
  const ws = new WebSocket(url)
  const waiting = new Map()
  ws.on('message', (d) => {
    const m = JSON.parse(d)
    if (m[0] === 'OK' && waiting.has(m[1])) { waiting.get(m[1])(m); waiting.delete(m[1]) }
  })
  const open = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  const publish = (event) => new Promise((resolve) => { waiting.set(event.id, resolve); ws.send(JSON.stringify(['EVENT', event])) })
  return { ws, open, publish }
}

/**
 * Publish kind-1 notes signed with `sk` (content: a counter, then `body`) from two connections,
 * `window` EVENTs in flight each, until `stop(oks)` says so; returns every OK by event id as
 * `{ accepted, message }`.
 */
export async function publishUntil (url, sk, stop, { window = 16, body = '' } = {}) {
  const oks = new Map()
  let n = 0
  const one = async () => {
    const c = client(url)
    await c.open
    const lane = async () => {
      while (!stop(oks)) {
        const e = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: `${n++} ${body}` }, sk)
        const m = await c.publish(e)
        oks.set(e.id, { accepted: m[2], message: m[3] })
      }
    }
    await Promise.all(Array.from({ length: window }, lane))
    c.ws.close()
  }
  await Promise.all([one(), one()])
  return oks
}

/** Which of `ids` the node has, asked by id in pages of 500. */
export async function storedAmong (url, ids) {
  const found = new Set()
  const list = [...ids]
  for (let i = 0; i < list.length; i += 500) {
    const page = list.slice(i, i + 500)
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.on('open', () => ws.send(JSON.stringify(['REQ', 'q', { ids: page }])))
      ws.on('message', (d) => {
        const m = JSON.parse(d)
        if (m[0] === 'EVENT') found.add(m[2].id)
        if (m[0] === 'EOSE' || m[0] === 'CLOSED') { ws.close(); resolve() }
      })
      ws.on('error', reject)
    })
  }
  return found
}

/** Ids answered `OK true`. */
export const accepted = (oks) => [...oks].filter(([, o]) => o.accepted).map(([id]) => id)
/** `[id, { accepted: false, message }]` of the refused ones. */
export const refused = (oks) => [...oks].filter(([, o]) => !o.accepted)
