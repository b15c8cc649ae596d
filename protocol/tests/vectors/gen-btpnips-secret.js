// Independent check of docs/btp-nips.md §2 (ECDH + HKDF) with Node's own crypto.
// Run: node protocol/tests/vectors/gen-btpnips-secret.js  (writes the two .txt vectors).
const c = require('crypto'); const fs = require('fs'); const path = require('path')
const a = Buffer.alloc(32, 0x11); const b = Buffer.alloc(32, 0x22)
const ea = c.createECDH('secp256k1'); ea.setPrivateKey(a)
const eb = c.createECDH('secp256k1'); eb.setPrivateKey(b)
const xa = ea.getPublicKey(null, 'compressed').slice(1); const xb = eb.getPublicKey(null, 'compressed').slice(1)
const x = ea.computeSecret(Buffer.concat([Buffer.from([2]), xb]))
const [lo, hi] = Buffer.compare(xa, xb) <= 0 ? [xa, xb] : [xb, xa]
const hk = (tag) => Buffer.from(c.hkdfSync("sha256", x, Buffer.from("btp-nips/1 stream shared secret"), Buffer.concat([lo, hi, tag]), 32))
const s = hk(Buffer.alloc(0)); const st = hk(Buffer.from("0102030405060708", "hex"))
fs.writeFileSync(path.join(__dirname, "btpnips_secret_ab_tagged.txt"), st.toString("hex") + "\n")
fs.writeFileSync(path.join(__dirname, 'btpnips_pk_a.txt'), xa.toString('hex') + '\n')
fs.writeFileSync(path.join(__dirname, 'btpnips_secret_ab.txt'), s.toString('hex') + '\n')
console.log({ pkA: xa.toString('hex'), pkB: xb.toString('hex'), secret: s.toString('hex') })
