import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { SimReport } from '../../sim/types.js'
import { runCli, tempDir } from '../helpers/devnet.js'

const KiB = 1024
const CHARTS = ['hit-rate-by-cache-size', 'walrus-egress-by-nodes', 'time-to-model-cdf']

async function readReport (dir: string): Promise<SimReport> {
  return JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as SimReport
}

function scenario (patch: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'cli',
    seed: 5,
    nodes: 40,
    mode: 'scale',
    models: { count: 12, minBytes: 256 * KiB, maxBytes: 4096 * KiB },
    cache: { quotaFraction: 0.2 },
    workload: { requests: 2000, ratePerSec: 50, zipf: 1, nodeSkew: 0.2 },
    sweep: { cacheFractions: [0.1, 0.3], nodeCounts: [10, 40] },
    ...patch
  }
}

describe('herd sim', () => {
  it('scale: writes the report, the summary and every chart; the same seed gives the same figures, another seed others', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'scenario.json')
    await writeFile(file, JSON.stringify(scenario({})))
    const runs: SimReport[] = []
    for (const [out, extra] of [['a', []], ['b', []], ['c', ['--seed', '6']]] as const) {
      const result = await runCli(['sim', 'scale', file, '--out', join(dir.path, out), '--quiet', ...extra])
      assert.equal(result.code, 0, result.stderr)
      const done = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}')
      assert.equal(done.event, 'done')
      runs.push(await readReport(join(dir.path, out)))
    }
    const files = await readdir(join(dir.path, 'a'))
    assert.deepEqual(files.sort(), ['report.json', 'summary.md', ...CHARTS.flatMap(c => [`${c}.png`, `${c}.svg`])].sort())
    const [a, b, c] = runs as [SimReport, SimReport, SimReport]
    for (const name of ['mesh', 'noMesh', 'optimal'] as const) {
      const m = a.strategies[name]
      assert.equal(m.localHits + m.peerHits + m.walrusHits, m.requests, name)
      assert.deepEqual(Object.keys(m.timeToModelMs), ['p50', 'p95', 'p99'])
    }
    assert.equal(a.seed, 5)
    assert.deepEqual((a.scenario as { name: string }).name, 'cli')
    assert.deepEqual(a.strategies, b.strategies, 'same scenario and seed, same figures')
    assert.equal(c.seed, 6)
    assert.notDeepEqual(c.strategies.mesh, a.strategies.mesh)
    assert.match(await readFile(join(dir.path, 'a', 'summary.md'), 'utf8'), /# Simulation: cli/)
  })

  it('run: refuses what live mode cannot run, with the reason and no process started', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'scenario.json')
    await writeFile(file, JSON.stringify(scenario({})))
    const tooMany = await runCli(['sim', 'run', file, '--out', join(dir.path, 'out'), '--quiet'])
    assert.equal(tooMany.code, 1)
    assert.match(tooMany.stderr, /at most 32 nodes/)
    await writeFile(file, JSON.stringify({ ...scenario({}), nodes: 'four' }))
    const invalid = await runCli(['sim', 'run', file, '--quiet'])
    assert.equal(invalid.code, 1)
    assert.match(invalid.stderr, /nodes/)
    await assert.rejects(readdir(join(dir.path, 'out')), { code: 'ENOENT' })
  })

  it('run and scale: refuse an output directory they could not write, before any work', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'scenario.json')
    await writeFile(file, JSON.stringify(scenario({ nodes: 4 })))
    for (const [args, option] of [
      [['sim', 'run', file, '--out', join(file, 'out')], '--out'],
      [['sim', 'run', file, '--out', join(dir.path, 'out'), '--node-logs', join(file, 'logs', 'deeper')], '--node-logs'],
      [['sim', 'scale', file, '--out', join(file, 'out')], '--out']
    ] as const) {
      const result = await runCli([...args, '--quiet'])
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, new RegExp(`${option} .*scenario\\.json is not a directory`))
      assert.equal(result.stdout, '')
    }
    // Refused before the run: the code before this ran the four nodes for tens of seconds and then failed to write the report.
    await assert.rejects(readdir(join(dir.path, 'out')), { code: 'ENOENT' })
  })

  it('run: real nodes, mesh and no mesh, with the scale check beside them', { timeout: 120_000 }, async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'scenario.json')
    await writeFile(file, JSON.stringify(scenario({
      nodes: 2,
      mode: 'live',
      models: { count: 3, minBytes: 64 * KiB, maxBytes: 96 * KiB },
      cache: { quotaFraction: 0.7 },
      workload: { requests: 10, ratePerSec: 8, zipf: 1 },
      origin: { latencyMs: 20, bandwidthBytesPerSec: 0, failureRate: 0 },
      sweep: { cacheFractions: [0.5], nodeCounts: [2] }
    })))
    const out = join(dir.path, 'out')
    const result = await runCli(['sim', 'run', file, '--out', out, '--quiet'], { timeoutMs: 110_000 })
    assert.equal(result.code, 0, result.stderr)
    const report = await readReport(out)
    assert.equal(report.mode, 'live')
    assert.ok(report.scaleCheck != null)
    for (const name of ['mesh', 'noMesh'] as const) {
      const m = report.strategies[name] as SimReport['strategies']['mesh'] & { failed: number }
      assert.equal(m.requests, 10)
      assert.equal(m.localHits + m.peerHits + m.walrusHits + m.failed, 10)
      assert.ok(m.inferenceMs != null && m.wireBytes != null, name)
    }
    assert.equal(report.strategies.noMesh.peerHits, 0)
    assert.match(await readFile(join(out, 'summary.md'), 'utf8'), /## Live against scale/)
  })
})
