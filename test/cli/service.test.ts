import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { request } from 'undici'
import { tempDir } from '../helpers/devnet.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The `Key=value` settings of a unit file, continuations joined, comments dropped. */
function unitSettings (text: string): Array<[string, string]> {
  return text.replace(/\\\n/g, ' ').split('\n')
    .map(line => line.trim())
    .filter(line => line !== '' && !line.startsWith('#') && !line.startsWith(';') && !line.startsWith('['))
    .map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
}

describe('deploy/', () => {
  it('the systemd unit runs as its own user, keeps state in /var/lib/herd, restarts on failure and is hardened', async () => {
    const settings = new Map(unitSettings(await readFile(join(ROOT, 'deploy/herd.service'), 'utf8')))
    assert.equal(settings.get('User'), 'herd')
    assert.equal(settings.get('StateDirectory'), 'herd')
    assert.equal(settings.get('Restart'), 'on-failure')
    for (const key of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'CapabilityBoundingSet', 'RestrictAddressFamilies']) assert.ok(settings.has(key), key)
    assert.match(settings.get('ExecStart') ?? '', /--api-host 127\.0\.0\.1\b/)
    assert.match(settings.get('ExecStart') ?? '', /--data-dir \/var\/lib\/herd\//)
  })

  it('the Dockerfile runs as a user of its own, with the data dir a volume and the API on loopback', async () => {
    const text = await readFile(join(ROOT, 'deploy/Dockerfile'), 'utf8')
    assert.ok((text.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage')
    assert.match(text, /^USER herd$/m)
    assert.match(text, /^VOLUME \["\/var\/lib\/herd"\]$/m)
    assert.match(text, /^CMD \[.*"--api-host", "127\.0\.0\.1".*\]$/m)
  })

  it('the unit\'s ExecStart, on temp paths and free ports, becomes ready on the devnet and stops cleanly on SIGTERM', { timeout: 180_000 }, async () => {
    await using dir = await tempDir('herd-service-')
    const settings = unitSettings(await readFile(join(ROOT, 'deploy/herd.service'), 'utf8'))
    const execStart = settings.find(([key]) => key === 'ExecStart')?.[1]
    assert.ok(execStart != null)
    // A plain split is exact only without systemd's quoting and specifiers: say so if the unit grows them.
    assert.doesNotMatch(execStart, /["'%$]/, 'ExecStart uses no quotes, specifiers or variables')
    const rewrite = (value: string): string => value
      .replaceAll('/opt/herd/', ROOT)
      .replaceAll('/var/lib/herd', dir.path)
      .replace(/--api-port \d+/, '--api-port 0')
      .replace(/--listen \/ip4\/[\d.]+\/tcp\/\d+/, '--listen /ip4/127.0.0.1/tcp/0')
    const [command, ...args] = rewrite(execStart).split(/\s+/)
    const env: NodeJS.ProcessEnv = { ...process.env, DEBUG: '' }
    for (const [key, value] of settings) {
      if (key !== 'Environment') continue
      const [name, ...rest] = value.split('=')
      env[name ?? ''] = rewrite(rest.join('='))
    }
    const child = spawn(command ?? '', args, { cwd: dir.path, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    const lines: string[] = []
    try {
      const ready = await new Promise<Record<string, any>>((resolve, reject) => {
        // Generous: a node's first start on a loaded machine takes seconds, not minutes.
        setTimeout(() => { reject(new Error(`not ready: ${stderr}`)) }, 120_000).unref()
        createInterface({ input: child.stdout }).on('line', line => {
          lines.push(line)
          const event = JSON.parse(line)
          if (event.event === 'ready') resolve(event)
        })
        void exited.then(code => { reject(new Error(`exited with ${code}: ${stderr}`)) })
      })
      assert.equal(ready.network, 'devnet')
      assert.equal(ready.dataDir, join(dir.path, 'node'))
      assert.match(ready.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.equal((await request(`${ready.api}/health`)).statusCode, 200)
      child.kill('SIGTERM')
      assert.equal(await exited, 0, stderr)
      // Every line is JSON (the journal's form), the last one the stopped line.
      const parsed = lines.map(line => JSON.parse(line))
      assert.deepEqual(parsed.at(-1), { event: 'stopped', signal: 'SIGTERM' })
      assert.ok(parsed.some(line => line.event === 'stopping' && line.level === 'info'))
    } finally {
      if (child.exitCode == null) child.kill('SIGKILL')
      await exited
    }
  })
})
