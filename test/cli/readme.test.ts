import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { DEFAULT_LEDGER_PORT, DEFAULT_WALRUS_PORT } from '../../src/cli/options.js'
import { loadScenario } from '../../sim/scenario.js'
import { syntheticModelOfSize } from '../../sim/synthetic-model.js'
import { tempDir } from '../helpers/devnet.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * Commands of the README and docs/ that this test does not run, and why.
 * Every other line of every `sh` block runs, in order, against real
 * processes on loopback: fixed ports become free ones, /tmp paths temp ones,
 * and the placeholders the values the earlier commands printed.
 */
const SKIPPED: Array<{ match: RegExp, why: string }> = [
  { match: /^npm ci && npm start$/, why: 'npm ci reinstalls node_modules from the registry; npm start is herd start, which the devnet block runs' },
  { match: /^npm test$/, why: 'the whole suite, this test among it' },
  { match: /^(sudo |journalctl |\/opt\/herd\/herd )/, why: 'installing the systemd unit needs root and systemd; test/cli/service.test.ts runs its ExecStart' },
  { match: /^docker /, why: 'no Docker engine here; test/cli/service.test.ts checks the Dockerfile runs the unit\'s command line and copies what the CLI imports' },
  // Each takes a minute or more on a loaded 2-core machine; their scenario files are loaded below, and test/cli/sim-cli.test.ts runs both modes on a small scenario.
  { match: /^\.\/herd sim (run|scale) /, why: 'a full simulation run (test/cli/sim-cli.test.ts runs both modes on a small scenario; the scenario files named here are loaded)' }
]

const skipped = (text: string): string | undefined => SKIPPED.find(s => s.match.test(text))?.why

/** The documents a newcomer reads, in the order their commands run: the README's nodes stay up for the docs' commands. */
async function documents (): Promise<string[]> {
  const docs = (await readdir(join(ROOT, 'docs'))).filter(name => name.endsWith('.md')).sort().map(name => `docs/${name}`)
  return ['README.md', ...docs, 'benchmarks/README.md']
}

interface Command { text: string, background: boolean }

/** The commands of the README's `sh` blocks: continuations joined, comments dropped. */
function readmeCommands (markdown: string): Command[][] {
  const blocks = [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map(m => m[1] ?? '')
  return blocks.map(block => {
    const joined = block.replace(/\s*\\\n\s*/g, ' ')
    return joined.split('\n')
      .map(line => line.replace(/\s+#\s.*$/, '').trim())
      .filter(line => line !== '')
      .map(line => line.endsWith('&') && !line.endsWith('&&') ? { text: line.slice(0, -1).trim(), background: true } : { text: line, background: false })
  })
}

interface Running { child: ChildProcess, exited: Promise<number | null>, ready: Record<string, any>, text: string, lines: string[] }

class ReadmeRun {
  /** A fixed port of the README -> the URL or port it stands for here, once the process that opens it is up. */
  private readonly urls = new Map<number, string>()
  private readonly p2pPorts = new Map<number, number>()
  readonly placeholders = new Map<string, string>()
  readonly running: Running[] = []

  constructor (readonly dir: string, readonly env: NodeJS.ProcessEnv) {}

  rewrite (text: string): string {
    let out = text.replaceAll('./herd ', `'${join(ROOT, 'herd')}' `)
      .replace(/\/tmp\/([a-z])\b/g, (_m, name: string) => join(this.dir, name))
      // The README's fixed ports become free ones; its URLs and multiaddrs then point at what opened.
      .replace(/--api-port \d+/g, '--api-port 0')
      .replace(/--listen \/ip4\/127\.0\.0\.1\/tcp\/\d+/g, '--listen /ip4/127.0.0.1/tcp/0')
      .replace(/http:\/\/127\.0\.0\.1:(\d+)/g, (match, port: string) => {
        const url = this.urls.get(Number(port))
        if (url == null) throw new Error(`the README uses ${match} before a command that opens it`)
        return url
      })
      .replace(/\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\//g, (match, port: string) => {
        const actual = this.p2pPorts.get(Number(port))
        if (actual == null) throw new Error(`the README dials ${match} before a node listens there`)
        return `/ip4/127.0.0.1/tcp/${actual}/p2p/`
      })
    if (/herd' devnet\b/.test(out)) out += ` --walrus-port 0 --ledger-port 0 --dir '${join(this.dir, 'devnet')}'`
    if (/^curl /.test(out)) out = out.replace(/^curl /, 'curl --fail --silent --show-error ')
    // `$BLOB_ID` is the shell's, from the environment; a bare BLOB_ID is the README's placeholder.
    for (const [name, value] of this.placeholders) out = out.replace(new RegExp(`(?<![$\\w])${name}\\b`, 'g'), value)
    return out
  }

  /** Starts a long-running command and waits for its ready line; learns the ports it opened. */
  async background (text: string): Promise<Running> {
    const child = spawn('sh', ['-c', `exec ${this.rewrite(text)}`], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    const lines: string[] = []
    const ready = await new Promise<Record<string, any>>((resolve, reject) => {
      // Generous: the first command may build dist/ and the machine is shared.
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${text} was not ready: ${stderr}`)) }, 180_000)
      createInterface({ input: child.stdout! }).on('line', line => {
        lines.push(line)
        try {
          const event = JSON.parse(line)
          if (event.event === 'ready') { clearTimeout(timer); resolve(event) }
        } catch {}
      })
      void exited.then(code => { clearTimeout(timer); reject(new Error(`${text} exited with ${code}: ${stderr}`)) })
    })
    const running = { child, exited, ready, text, lines }
    this.running.push(running)
    if (/ devnet\b/.test(text)) {
      this.urls.set(DEFAULT_WALRUS_PORT, String(ready.walrus).replace(/\/+$/, ''))
      this.urls.set(DEFAULT_LEDGER_PORT, String(ready.ledger).replace(/\/+$/, ''))
      // Commands that take the devnet's usual ports by default find this one through the variables the README names.
      this.env.HERD_WALRUS = this.urls.get(DEFAULT_WALRUS_PORT)
      this.env.HERD_LEDGER = this.urls.get(DEFAULT_LEDGER_PORT)
    }
    const apiPort = /--api-port (\d+)/.exec(text)?.[1]
    if (apiPort != null) this.urls.set(Number(apiPort), ready.api)
    const listenPort = /--listen \/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(text)?.[1]
    if (listenPort != null) this.p2pPorts.set(Number(listenPort), Number(/\/tcp\/(\d+)\//.exec(ready.multiaddrs[0])?.[1]))
    return running
  }

  /** Runs a command to completion; it must exit 0. */
  foreground (text: string): string {
    const result = spawnSync('sh', ['-c', this.rewrite(text)], { cwd: this.dir, env: this.env, encoding: 'buffer', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 })
    assert.equal(result.status, 0, `${text}\n${result.stderr?.toString() ?? ''}${result.error?.message ?? ''}`)
    return result.stdout.toString('latin1')
  }

  /** Waits (bounded) for a JSON line from a running process. */
  async until (which: (r: Running) => boolean, match: (line: Record<string, any>) => boolean): Promise<void> {
    const running = this.running.find(which)
    assert.ok(running != null)
    const seen = (): boolean => running.lines.some(line => { try { return match(JSON.parse(line)) } catch { return false } })
    for (let waited = 0; !seen(); waited += 100) {
      if (waited > 60_000) assert.fail(`${running.text} did not print the line awaited:\n${running.lines.join('\n')}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  /** Runs a command that goes on until Ctrl-C: waits for `count` matches of `frame` on its stdout, sends SIGINT, and it must exit 0. */
  async untilInterrupted (text: string, frame: RegExp, count: number): Promise<string> {
    const child = spawn('sh', ['-c', `exec ${this.rewrite(text)}`], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    try {
      for (let waited = 0; (out.match(frame) ?? []).length < count; waited += 100) {
        if (waited > 60_000 || child.exitCode != null) assert.fail(`${text} did not print ${count} frames:\n${out}${err}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      child.kill('SIGINT')
      assert.equal(await exited, 0, `${text} on SIGINT\n${err}`)
      return out
    } finally {
      if (child.exitCode == null) child.kill('SIGKILL')
    }
  }

  async stopAll (): Promise<Array<number | null>> {
    const codes: Array<number | null> = []
    // The nodes first, the devnet they use last.
    for (const running of [...this.running].reverse()) {
      if (running.child.exitCode == null) running.child.kill('SIGTERM')
      const timer = setTimeout(() => running.child.kill('SIGKILL'), 30_000)
      codes.push(await running.exited)
      clearTimeout(timer)
    }
    this.running.length = 0
    return codes
  }
}

describe('README', () => {
  it('finds the shell blocks, joins continuations and drops comments', () => {
    const commands = readmeCommands('text\n```sh\n./herd devnet &   # Walrus\n./herd start --a 1 \\\n  --b 2 &\nnpm ci && npm start\n```\n```json\n{"x": 1}\n```\n')
    assert.deepEqual(commands, [[
      { text: './herd devnet', background: true },
      { text: './herd start --a 1 --b 2', background: true },
      { text: 'npm ci && npm start', background: false }
    ]])
  })

  it('every shell command it shows works, against real processes on loopback', { timeout: 900_000 }, async t => {
    const curl = spawnSync('curl', ['--version'])
    if (curl.error != null) { t.skip('no curl here: the README\'s curl lines cannot run'); return }
    await using dir = await tempDir('herd-readme-')
    const model = syntheticModelOfSize(64 * 1024, 7)
    await writeFile(join(dir.path, 'model.onnx'), model)
    await mkdir(join(dir.path, 'home'))
    const run = new ReadmeRun(dir.path, { ...process.env, HERD_HOME: join(dir.path, 'home'), DEBUG: '' })
    const commands: Array<Command & { doc: string }> = []
    for (const doc of await documents()) commands.push(...readmeCommands(await readFile(join(ROOT, doc), 'utf8')).flat().map(c => ({ ...c, doc })))
    const ran: string[] = []
    const skippedLines: string[] = []
    try {
      for (const { text, background, doc } of commands) {
        const why = skipped(text)
        if (why != null) {
          skippedLines.push(`${doc}: ${text}: ${why}`)
          for (const [, path] of text.matchAll(/\b(sim\/scenarios\/\S+\.json)\b/g)) await loadScenario(join(ROOT, path ?? ''))
          continue
        }
        if (doc !== 'README.md' && run.env.HERD_API == null) {
          // docs/operating.md's `./herd status` reads $HERD_API without --api, as it says: node B's here, as no node may take the fixed default port.
          run.env.HERD_API = run.running.find(r => /--bootstrap/.test(r.text))?.ready.api
        }
        if (/\| jq\b/.test(text) && spawnSync('jq', ['--version']).error != null) { skippedLines.push(`${doc}: ${text}: no jq here`); continue }
        if (background) {
          await run.background(text)
          ran.push(text)
          continue
        }
        // B's status counts A once B has said it joined: the JSON line of its event feed.
        if (/ status\b/.test(text)) await run.until(r => /--bootstrap/.test(r.text), line => line.event === 'peer:joined')
        if (/ --watch\b/.test(text)) {
          const frames = await run.untilInterrupted(text, /^herd node /gm, 2)
          assert.match(frames, /^peers\s+1$/m)
          ran.push(text)
          continue
        }
        const out = run.foreground(text)
        ran.push(text)
        // What later commands stand in for with a placeholder, and what each one must have done.
        if (/ key show\b/.test(text)) run.placeholders.set('PEER_ID_OF_A', JSON.parse(out).peerId)
        if (/ model push\b/.test(text)) {
          const entry = JSON.parse(out)
          assert.equal(entry.size, model.byteLength)
          run.placeholders.set('BLOB_ID', entry.blobId)
          run.env.BLOB_ID = entry.blobId
        }
        if (/ fetch\b/.test(text)) assert.equal(JSON.parse(out).type, 'fetch:done')
        if (/ status\b/.test(text) && !/--json\b/.test(text)) assert.match(out, /^peers\s+1$/m)
        if (/ status --json \| jq \.cache$/.test(text)) assert.equal(JSON.parse(out).bytes, model.byteLength)
        if (/-o copy\.onnx/.test(text)) assert.deepEqual(await readFile(join(dir.path, 'copy.onnx')), Buffer.from(model))
      }
      t.diagnostic(`ran ${ran.length} commands; skipped: ${skippedLines.join('; ')}`)
      assert.ok(ran.some(c => / start\b/.test(c)) && ran.some(c => / model push\b/.test(c)) && ran.some(c => c.startsWith('curl')), 'the README still shows a node, a push and a curl')
      assert.ok(ran.some(c => / status --api .* --watch$/.test(c)), 'docs/operating.md\'s herd status block ran')
      const codes = await run.stopAll()
      assert.equal(codes.length, 3, 'a devnet and two nodes')
      assert.deepEqual(codes, [0, 0, 0], 'every process stops cleanly on SIGTERM')
    } finally {
      await run.stopAll()
    }
  })
})
