// Helpers for the interop tests: JS reference-stack processes that print one JSON object per
// line, and free loopback ports.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventually, freePort } from '../system/lib/harness.mjs'

export { freePort }

const here = path.dirname(fileURLToPath(import.meta.url))

/** A child process whose stdout lines are JSON events. */
export class JsProcess {
  constructor (name, args, env = {}) {
    this.name = name
    this.events = []
    this.stderr = ''
    this.proc = spawn(process.execPath, args, { cwd: here, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    this.proc.stdout.on('data', (d) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1)
        try { this.events.push(JSON.parse(line)) } catch { this.stderr += line + '\n' }
      }
    })
    this.proc.stderr.on('data', (d) => { this.stderr += d })
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)))
  }

  static role (name, role, args, env) {
    return new JsProcess(name, [path.join(here, 'js', 'roles.cjs'), role, ...args.map(String)], env)
  }

  static connector (accounts, env = {}) {
    return new JsProcess('ilp-connector', [path.join(here, 'node_modules', 'ilp-connector', 'dist', 'index.js')], {
      CONNECTOR_ENV: 'test',
      CONNECTOR_ILP_ADDRESS: 'test.conn',
      CONNECTOR_BACKEND: 'one-to-one',
      CONNECTOR_SPREAD: '0',
      CONNECTOR_STORE: 'memory',
      CONNECTOR_ACCOUNTS: JSON.stringify(accounts),
      DEBUG: 'connector*',
      ...env
    })
  }

  /** Wait for an event matching `pred`; fail on a `fatal` event. */
  async waitFor (pred, what, timeoutMs = 30000) {
    return eventually(() => {
      const fatal = this.events.find((e) => e.event === 'fatal')
      if (fatal) throw new Error(`${this.name} failed: ${fatal.message}\n${fatal.stack}`)
      return this.events.find(pred)
    }, { what: `${this.name}: ${what}`, timeoutMs })
  }

  sum (event) {
    return this.events.filter((e) => e.event === event).reduce((a, e) => a + BigInt(e.amount), 0n)
  }

  stop () { if (this.proc.exitCode === null) this.proc.kill('SIGKILL') }

  describe () { return `${JSON.stringify(this.events)}\n${this.stderr.slice(-6000)}` }
}
