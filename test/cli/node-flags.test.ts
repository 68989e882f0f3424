import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { NODE_FLAGS } from '../../src/node-flags.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..')

describe('the V8 flags of a node process (src/node-flags.ts)', () => {
  it('./herd passes them to the CLI', async () => {
    const script = await readFile(join(ROOT, 'herd'), 'utf8')
    assert.match(script, new RegExp(`^exec "\\$node" ${NODE_FLAGS.join(' ')} "\\$cli" "\\$@"$`, 'm'))
  })

  it('npm start and every benchmark script pass them', async () => {
    const { scripts } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    const launchers = Object.entries(scripts).filter(([name]) => name === 'start' || name === 'bench' || name.startsWith('bench:'))
    assert.ok(launchers.length >= 8)
    for (const [name, command] of launchers) assert.match(command, new RegExp(`&& node ${NODE_FLAGS.join(' ')} dist/`), name)
  })
})
