import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { HERD_V8_FLAGS } from '../../src/cli/v8-flags.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const run = promisify(execFile)
const FLAGS = HERD_V8_FLAGS.join(' ')

async function text (path: string): Promise<string> {
  return readFile(ROOT + path, 'utf8')
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
    assert.match(await text('deploy/Dockerfile'), new RegExp(`^\\s*NODE_OPTIONS=${FLAGS}$`, 'm'))
  })

  it('every npm script that runs node runs it with them', async () => {
    const { scripts } = JSON.parse(await text('package.json')) as { scripts: Record<string, string> }
    const runs = Object.entries(scripts).filter(([, command]) => /\bnode(?: --\S+)* dist\//.test(command))
    assert.ok(runs.length >= 8, `found ${runs.length} scripts running node on dist/`)
    for (const [name, command] of runs) assert.match(command, new RegExp(`&& node ${FLAGS} dist/`), `npm run ${name}`)
  })

  it('are flags this Node takes, and cap the young generation', async () => {
    // Objects kept alive for a while make V8 grow its semi-spaces as far as it may.
    const grow = 'const v8 = require("node:v8"); let keep = [], most = 0; for (let i = 0; i < 1e6; i++) { keep.push({ i }); if (keep.length > 100000) keep = []; if (i % 5000 === 0) most = Math.max(most, v8.getHeapSpaceStatistics().find(s => s.space_name === "new_space").space_size) } process.stdout.write(String(most))'
    const { stdout } = await run(process.execPath, [...HERD_V8_FLAGS, '-e', grow])
    const semiSpaceMiB = Number(/--max-semi-space-size=(\d+)/.exec(FLAGS)?.[1])
    assert.ok(Number(stdout) <= 2 * semiSpaceMiB * 1024 * 1024, `new space grew to ${stdout} bytes`)
  })
})
