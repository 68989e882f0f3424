import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Resvg } from '@resvg/resvg-js'
import { sweepPolicies } from '../../sim/policy-sweep.js'
import { simulateScaleCache } from '../../sim/scale.js'
import { parseScenario, type Scenario } from '../../sim/scenario.js'
import { generateTrace } from '../../sim/trace.js'
import { reportJson } from '../../sim/report.js'
import type { PolicyPoint, SimReport } from '../../sim/types.js'
import { runCli, tempDir } from '../helpers/devnet.js'

const KiB = 1024
const POLICIES = ['lru', 'gdsf', 'aged-lfu'] as const
const FRACTIONS = [0.1, 0.3]
const CHART = 'byte-hit-ratio-by-policy'

/** Small enough to run the 12 sweep runs in a few seconds; a popularity skew the policies disagree on. */
function scenarioInput (): Record<string, unknown> {
  return {
    name: 'policies',
    seed: 11,
    mode: 'scale',
    nodes: 30,
    models: { count: 60, minBytes: 64 * KiB, maxBytes: 16 * 1024 * KiB },
    cache: { quotaFraction: 0.1, policy: 'lru' },
    workload: { requests: 3000, ratePerSec: 50, zipf: 0.9, nodeSkew: 0.3 },
    sweep: { cacheFractions: FRACTIONS, nodeCounts: [30], policies: POLICIES }
  }
}

/** A run of its own: the scenario with one policy and one quota, on a trace generated afresh from the seed. */
function separateRun (scenario: Scenario, policy: string, fraction: number, strategy: 'mesh' | 'noMesh'): { byteHitRatio: number, walrusBytes: number } {
  const own = parseScenario({ ...scenarioInput(), cache: { quotaFraction: fraction, policy } })
  assert.equal(own.seed, scenario.seed)
  const trace = generateTrace(own)
  const asked = trace.requests.reduce((sum, r) => sum + (trace.models[r.model]?.sizeBytes ?? 0), 0)
  const { metrics, localHitBytes } = simulateScaleCache(own, trace, strategy)
  return { byteHitRatio: localHitBytes / asked, walrusBytes: metrics.walrusBytes }
}

describe('policies side by side', () => {
  it('herd sim scale sweeps three policies at two cache sizes: a chart, and figures equal to separate runs of each policy with the same seed', { timeout: 60_000 }, async () => {
    await using dir = await tempDir('herd-sim-policies-')
    const file = join(dir.path, 'scenario.json')
    await writeFile(file, JSON.stringify(scenarioInput()))
    const out = join(dir.path, 'out')
    const result = await runCli(['sim', 'scale', file, '--out', out, '--quiet'])
    assert.equal(result.code, 0, result.stderr)

    const files = await readdir(out)
    for (const ext of ['svg', 'png']) assert.ok(files.includes(`${CHART}.${ext}`), `${CHART}.${ext} in ${files.join(', ')}`)
    const svg = await readFile(join(out, `${CHART}.svg`), 'utf8')
    for (const policy of POLICIES) assert.ok(svg.includes(policy), `the chart's legend names ${policy}`)
    assert.ok(new Resvg(svg).render().width > 0)

    const text = await readFile(join(out, 'report.json'), 'utf8')
    const report = JSON.parse(text) as SimReport
    // The existing fields keep their order; the comparison comes after them.
    assert.deepEqual(Object.keys(report), ['mode', 'scenario', 'seed', 'startedAt', 'durationMs', 'strategies', 'tailGoals', 'sweeps', 'policySweep'])
    assert.equal(text, reportJson(report), 'report.json is in its canonical order')
    const points = report.policySweep ?? []
    assert.equal(points.length, POLICIES.length * FRACTIONS.length * 2)

    const scenario = parseScenario(scenarioInput())
    for (const policy of POLICIES) {
      for (const x of FRACTIONS) {
        for (const strategy of ['mesh', 'noMesh'] as const) {
          const point = points.find(p => p.policy === policy && p.x === x && p.strategy === strategy) as PolicyPoint
          assert.ok(point != null, `${policy} at ${x} ${strategy}`)
          const alone = separateRun(scenario, policy, x, strategy)
          assert.equal(point.byteHitRatio, alone.byteHitRatio, `${policy} at ${x} ${strategy}: byte hit ratio`)
          assert.equal(point.walrusBytes, alone.walrusBytes, `${policy} at ${x} ${strategy}: Walrus bytes`)
        }
      }
    }
    // The scenario's own policy at its own quota is the report's main run.
    const own = points.find(p => p.policy === 'lru' && p.x === 0.1 && p.strategy === 'mesh') as PolicyPoint
    assert.equal(own.walrusBytes, report.strategies.mesh.walrusBytes)
    // Otherwise matching separate runs would prove nothing about which policy ran.
    for (const x of FRACTIONS) {
      const ratios = new Set(points.filter(p => p.x === x && p.strategy === 'noMesh').map(p => p.byteHitRatio))
      assert.equal(ratios.size, POLICIES.length, `the policies differ at ${x}`)
    }
    const summary = await readFile(join(out, 'summary.md'), 'utf8')
    assert.match(summary, /## Policies side by side/)
    assert.match(summary, new RegExp(`\\]\\(${CHART}\\.svg\\)`))
  })

  it('--policies overrides the scenario\'s list, even with --no-sweep; an unknown one is refused naming the flag', { timeout: 60_000 }, async () => {
    await using dir = await tempDir('herd-sim-policies-')
    const file = join(dir.path, 'scenario.json')
    await writeFile(file, JSON.stringify(scenarioInput()))
    const out = join(dir.path, 'out')
    const result = await runCli(['sim', 'scale', file, '--out', out, '--quiet', '--no-sweep', '--policies', 'gdsf,wtinylfu'])
    assert.equal(result.code, 0, result.stderr)
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as SimReport
    assert.equal(report.sweeps, undefined)
    assert.deepEqual([...new Set(report.policySweep?.map(p => p.policy))], ['gdsf', 'wtinylfu'])

    const noSweep = await runCli(['sim', 'scale', file, '--out', join(dir.path, 'plain'), '--quiet', '--no-sweep'])
    assert.equal(noSweep.code, 0, noSweep.stderr)
    assert.ok(!(await readdir(join(dir.path, 'plain'))).some(f => f.startsWith(CHART)), '--no-sweep skips the scenario\'s sweep.policies')

    const unknown = await runCli(['sim', 'scale', file, '--out', join(dir.path, 'bad'), '--quiet', '--policies', 'lru,belady'])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /--policies: unknown policy "belady"/)
    await assert.rejects(readdir(join(dir.path, 'bad')), { code: 'ENOENT' })
  })

  it('herd sim run --policies: a live run\'s report compares the policies in the scale model on its trace, with the chart', { timeout: 300_000 }, async () => {
    await using dir = await tempDir('herd-sim-policies-live-')
    const file = join(dir.path, 'live.json')
    // Two nodes, two models, six requests: the smallest live run, since the comparison itself is the scale model's.
    // Most of its time is setup (a devnet, the models pushed, two node processes): 130 s at a load of 9 on 2 cores.
    const input = {
      name: 'policies-live',
      seed: 5,
      mode: 'live',
      nodes: 2,
      models: { count: 2, minBytes: 200 * KiB, maxBytes: 210 * KiB },
      cache: { quotaBytes: 1024 * KiB, policy: 'aged-lfu' },
      workload: { requests: 6, ratePerSec: 4, zipf: 1 },
      origin: { latencyMs: 20, bandwidthBytesPerSec: 4096 * KiB, failureRate: 0 },
      sweep: { cacheFractions: [0.5, 1] }
    }
    await writeFile(file, JSON.stringify(input))
    const out = join(dir.path, 'out')
    const result = await runCli(['sim', 'run', file, '--out', out, '--quiet', '--policies', 'lru,aged-lfu'], { timeoutMs: 280_000 })
    assert.equal(result.code, 0, result.stderr)
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as SimReport
    assert.equal(report.mode, 'live')
    const scenario = parseScenario(input)
    const byKey = (points: PolicyPoint[]): string[] => points.map(p => JSON.stringify([p.policy, p.strategy, p.x, p.byteHitRatio, p.hitRate, p.walrusBytes])).sort()
    assert.deepEqual(byKey(report.policySweep ?? []), byKey(sweepPolicies(scenario, generateTrace(scenario), ['lru', 'aged-lfu'])))
    assert.equal(report.policySweep?.length, 2 * 2 * 2)
    const files = await readdir(out)
    for (const ext of ['svg', 'png']) assert.ok(files.includes(`${CHART}.${ext}`), `${CHART}.${ext} in ${files.join(', ')}`)
    const summary = await readFile(join(out, 'summary.md'), 'utf8')
    assert.match(summary, /## Policies side by side/)
    assert.match(summary, /not live processes/)
  })
})
