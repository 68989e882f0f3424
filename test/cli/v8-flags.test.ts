import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { HERD_MALLOC_ENV, withMallocEnv } from '../../src/cli/malloc-env.js'
import { HERD_V8_FLAGS } from '../../src/cli/v8-flags.js'
import { childEnv } from '../../sim/live-cluster.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const run = promisify(execFile)
const FLAGS = HERD_V8_FLAGS.join(' ')

async function text (path: string): Promise<string> {
  return readFile(ROOT + path, 'utf8')
}

/** package.json's scripts, and those that run node on dist/ (at least the eight benchmarks'). */
async function nodeScripts (): Promise<{ scripts: Record<string, string>, runs: Array<[string, string]> }> {
  const { scripts } = JSON.parse(await text('package.json')) as { scripts: Record<string, string> }
  const runs = Object.entries(scripts).filter(([, command]) => /\bnode(?: --\S+)* dist\//.test(command))
  assert.ok(runs.length >= 8, `found ${runs.length} scripts running node on dist/`)
  return { scripts, runs }
}

describe('herd\'s V8 flags reach every launcher', () => {
  it('./herd puts them in NODE_OPTIONS before the operator\'s own', async () => {
    const assignments = (await text('herd')).split('\n').filter(line => /^\s*(export\s+)?NODE_OPTIONS=/.test(line))
    assert.ok(assignments.length > 0, './herd sets NODE_OPTIONS')
    const script = `${assignments.join('\n')}\nprintf %s "$NODE_OPTIONS"`
    const { NODE_OPTIONS: _, ...env } = process.env
    assert.equal((await run('sh', ['-c', script], { env })).stdout, FLAGS)
    assert.equal((await run('sh', ['-c', script], { env: { ...env, NODE_OPTIONS: '--max-old-space-size=2048' } })).stdout, `${FLAGS} --max-old-space-size=2048`)
  })

  it('the systemd unit and the container image set them as NODE_OPTIONS', async () => {
    assert.match(await text('deploy/herd.service'), new RegExp(`^Environment=NODE_OPTIONS=${FLAGS}$`, 'm'))
    assert.match(await text('deploy/Dockerfile'), new RegExp(`^\\s*NODE_OPTIONS=${FLAGS}( \\\\)?$`, 'm'))
  })

  it('every npm script that runs node runs it with them', async () => {
    const { scripts, runs } = await nodeScripts()
    for (const [name, command] of runs) assert.match(command, new RegExp(`&& (?:\\S+=\\S+ )*node ${FLAGS} dist/`), `npm run ${name}`)
    assert.match(scripts.start ?? '', /&& \.\/herd start$/, 'npm start runs ./herd, which sets them')
  })

  it('are flags this Node takes, and cap the young generation', async () => {
    // Objects kept alive for a while make V8 grow its semi-spaces as far as it may.
    const grow = 'const v8 = require("node:v8"); let keep = [], most = 0; for (let i = 0; i < 1e6; i++) { keep.push({ i }); if (keep.length > 100000) keep = []; if (i % 5000 === 0) most = Math.max(most, v8.getHeapSpaceStatistics().find(s => s.space_name === "new_space").space_size) } process.stdout.write(String(most))'
    const { stdout } = await run(process.execPath, [...HERD_V8_FLAGS, '-e', grow])
    const semiSpaceMiB = Number(/--max-semi-space-size=(\d+)/.exec(FLAGS)?.[1])
    assert.ok(Number(stdout) <= 2 * semiSpaceMiB * 1024 * 1024, `new space grew to ${stdout} bytes`)
  })
})

describe('herd\'s malloc settings reach every launcher', () => {
  const names = Object.keys(HERD_MALLOC_ENV)

  it('./herd exports them unless the operator set their own', async () => {
    const lines = (await text('herd')).split('\n').filter(line => names.some(name => line.includes(name)))
    assert.ok(lines.length > 0, './herd sets them')
    const script = `${lines.join('\n')}\nprintf '%s ' ${names.map(n => `"$${n}"`).join(' ')}`
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !names.includes(name)))
    assert.equal((await run('sh', ['-c', script], { env })).stdout, names.map(n => `${HERD_MALLOC_ENV[n]} `).join(''))
    const own = (await run('sh', ['-c', script], { env: { ...env, [names[0] as string]: '1048576' } })).stdout.split(' ')
    assert.equal(own[0], '1048576')
    // Exported: the node process ./herd starts sees them.
    const child = (await run('sh', ['-c', `${lines.join('\n')}\nsh -c 'printf %s "$${names[1] as string}"'`], { env })).stdout
    assert.equal(child, HERD_MALLOC_ENV[names[1] as string])
  })

  it('every npm script that runs node on dist/ sets them unless the operator set their own (npm start runs ./herd)', async () => {
    const { runs } = await nodeScripts()
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !names.includes(name)))
    const print = `sh -c 'printf "%s " ${names.map(n => `"$${n}"`).join(' ')}'`
    for (const [name, command] of runs) {
      const prefix = /&& ((?:\S+=\S+ )*)node /.exec(command)?.[1] ?? ''
      assert.equal((await run('sh', ['-c', prefix + print], { env })).stdout, names.map(n => `${HERD_MALLOC_ENV[n]} `).join(''), `npm run ${name}`)
      const own = (await run('sh', ['-c', prefix + print], { env: { ...env, [names[0] as string]: '1048576' } })).stdout.split(' ')
      assert.equal(own[0], '1048576', `npm run ${name} keeps the operator's own`)
    }
  })

  it('the systemd unit, the container image and the simulation\'s nodes set them', async () => {
    const unit = await text('deploy/herd.service')
    const image = await text('deploy/Dockerfile')
    for (const [name, value] of Object.entries(HERD_MALLOC_ENV)) {
      assert.match(unit, new RegExp(`^Environment=${name}=${value}$`, 'm'), `herd.service ${name}`)
      assert.match(image, new RegExp(`^\\s*${name}=${value}( \\\\)?$`, 'm'), `Dockerfile ${name}`)
      assert.equal(childEnv()[name], process.env[name] ?? value, `sim child ${name}`)
    }
    assert.deepEqual(withMallocEnv({ [names[0] as string]: '1' }), { ...HERD_MALLOC_ENV, [names[0] as string]: '1' })
  })

  // glibc reads them (musl ignores them); the fault count comes from Linux's /proc.
  const glibc = process.platform === 'linux' && (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime != null
  it('are read by this system\'s malloc: a model\'s session loaded and released again faults in no fresh pages for its weights', { skip: glibc ? false : 'not Linux with glibc: nothing reads these settings' }, async () => {
    // Without them, a load of a 7 MB model's session faulted in about 16 MiB (4,040 pages) here: the file's bytes and the weights,
    // glibc having handed the freed ones back. Not every load: glibc's own threshold rises after a large free, and some loads
    // (one to four in five) faulted in none. With them no load faulted in more than the file's bytes (1,600 pages) in 30 loads.
    const loads = `
      const { readFileSync, writeFileSync } = require('node:fs')
      const ort = require('onnxruntime-node')
      const faults = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7])
      ;(async () => {
        const { syntheticModelOfSize } = await import(${JSON.stringify(new URL('../../sim/synthetic-model.js', import.meta.url).href)})
        const path = process.argv[1]
        writeFileSync(path, syntheticModelOfSize(7_000_000, 1))
        const load = async () => { const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 }); await s.release() }
        await load(); await load()
        const perLoad = []
        for (let i = 0; i < 8; i++) { const before = faults(); await load(); perLoad.push(faults() - before) }
        process.stdout.write(String(Math.max(...perLoad)))
      })()`
    const dir = await mkdtemp(join(tmpdir(), 'herd-malloc-'))
    try {
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !names.includes(name)))
      // A load that faults its weights in afresh faults in at least twice the model's pages: the file's bytes, and the weights.
      const pageBytes = Number((await run('getconf', ['PAGESIZE'])).stdout)
      const weightsAfresh = 2 * Math.ceil(7_000_000 / pageBytes)
      // Without them glibc's own threshold rises after a large free, so a process may go 8 loads without one faulting afresh
      // (session 24: none of 8 faulted, and the suite failed): up to three processes are asked.
      let without = 0
      for (let attempt = 0; attempt < 3 && without < weightsAfresh; attempt++) {
        without = Math.max(without, Number((await run(process.execPath, ['-e', loads, join(dir, `a${attempt}.onnx`)], { env, cwd: ROOT })).stdout))
      }
      const withEnv = Number((await run(process.execPath, ['-e', loads, join(dir, 'b.onnx')], { env: withMallocEnv(env), cwd: ROOT })).stdout)
      assert.ok(without >= weightsAfresh, `without the settings the worst of 8 loads in each of 3 processes faulted in ${without} pages, under ${weightsAfresh}`)
      assert.ok(withEnv < weightsAfresh, `with them a load faulted in ${withEnv} pages: its weights afresh`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
