import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { builtinModules } from 'node:module'
import { readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
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

/** The files the compiled CLI loads, from its entry: static and literal dynamic imports, and worker scripts. */
async function importGraph (entry: string): Promise<{ files: Set<string>, packages: Set<string> }> {
  const files = new Set<string>()
  const packages = new Set<string>()
  const pending = [entry]
  for (let file = pending.pop(); file != null; file = pending.pop()) {
    if (files.has(file)) continue
    files.add(file)
    const code = await readFile(file, 'utf8')
    const specifiers = [
      ...code.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm),
      ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
      ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...code.matchAll(/new URL\(['"](\.[^'"]+\.js)['"], import\.meta\.url\)/g)
    ].map(m => m[1] ?? '')
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier))
      else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0] ?? specifier)
      }
    }
  }
  return { files, packages }
}

/** The arguments of the unit's ExecStart after the program and the CLI's path, with the data and install paths as they are. */
function cliArguments (execStart: string): string[] {
  const [, , ...args] = execStart.split(/\s+/)
  return args
}

describe('deploy/', () => {
  it('the systemd unit runs as its own user, keeps state in /var/lib/herd, restarts on failure and is hardened', async () => {
    const unit = unitSettings(await readFile(join(ROOT, 'deploy/herd.service'), 'utf8'))
    const settings = new Map(unit)
    assert.equal(settings.get('User'), 'herd')
    assert.equal(settings.get('StateDirectory'), 'herd')
    // The compile cache outlives a restart: under PrivateTmp the default (/tmp) would not.
    assert.equal(settings.get('CacheDirectory'), 'herd')
    const environment = unit.filter(([key]) => key === 'Environment').map(([, value]) => value)
    assert.ok(environment.some(value => /^NODE_COMPILE_CACHE=\/var\/cache\/herd\//.test(value)), 'NODE_COMPILE_CACHE under the CacheDirectory')
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

  it('the Dockerfile runs the unit\'s command line', async () => {
    const text = await readFile(join(ROOT, 'deploy/Dockerfile'), 'utf8')
    const execStart = unitSettings(await readFile(join(ROOT, 'deploy/herd.service'), 'utf8')).find(([key]) => key === 'ExecStart')?.[1] ?? ''
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)?.[1] ?? '[]') as string[]
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)?.[1] ?? '[]') as string[]
    // The image's Node rather than the pinned one, the same CLI at the same path.
    assert.deepEqual(entrypoint, ['node', '/opt/herd/dist/src/cli/index.js'])
    assert.equal(execStart.split(/\s+/)[1], '/opt/herd/dist/src/cli/index.js')
    assert.deepEqual(cmd, cliArguments(execStart))
  })

  it('the Dockerfile\'s build copies every folder the CLI is compiled from, and its image keeps every package the CLI imports', async () => {
    const text = await readFile(join(ROOT, 'deploy/Dockerfile'), 'utf8')
    const build = text.slice(0, text.indexOf('\nFROM ', text.indexOf('FROM ') + 1))
    const copied = new Set([...build.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap(m => (m[1] ?? '').trim().split(/\s+/).slice(0, -1)))
    const { files, packages } = await importGraph(join(ROOT, 'dist/src/cli/index.js'))
    assert.ok(files.size > 50, `${files.size} files reached from the CLI`)
    const folders = new Set([...files].map(file => relative(join(ROOT, 'dist'), file).split('/')[0] ?? ''))
    assert.deepEqual([...folders].filter(folder => !copied.has(folder)).sort(), [], 'folders the CLI imports from that the build stage does not copy')
    // `npm prune --omit=dev` leaves only the dependencies: a devDependency imported by the CLI is missing at run time.
    const { dependencies } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    assert.deepEqual([...packages].filter(name => dependencies[name] == null).sort(), [], 'packages the CLI imports that are not production dependencies')
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
