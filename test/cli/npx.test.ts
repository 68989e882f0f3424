import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

describe('npx herd', () => {
  // npm 11 links a project's own bin only as a dependency's: package.json lists herd as `file:.` for this.
  it('runs the CLI from the project\'s directory after npm ci, as ./herd does', { timeout: 120_000 }, async () => {
    const { stdout } = await promisify(execFile)('npx', ['--offline', 'herd', '--help'], { cwd: ROOT })
    assert.match(stdout, /^Usage: herd /m)
    assert.match(stdout, /\bstart\b/)
  })
})
