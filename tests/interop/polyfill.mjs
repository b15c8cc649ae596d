// js-libp2p 3 calls Promise.withResolvers (Node.js ≥ 22); the test machine runs Node.js 20.
// Import this module first in tests that load js-libp2p.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
