import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Every case here ends before the benchmark's work starts, a second or two in (its imports); one still running after this started the work. */
const RUN_MS = 60_000

/** A value out of range, or not a number, and the option the refusal has to name. */
interface BadValue { args: string[], option: string }

interface Script { name: string, file: string, badValues: BadValue[] }

/** Every benchmark, and sim/sample-request-log.ts, which writes the sample a test reads. */
const SCRIPTS: Script[] = [
  { name: 'abuse', file: 'dist/benchmarks/abuse.js', badValues: [{ args: ['--only', 'everything'], option: '--only' }] },
  { name: 'cache-policy', file: 'dist/benchmarks/cache-policy.js', badValues: [{ args: ['--seeds', '0'], option: '--seeds' }, { args: ['--seeds', 'x'], option: '--seeds' }] },
  { name: 'gossip-copies', file: 'dist/benchmarks/gossip-copies.js', badValues: [{ args: ['--nodes', '1'], option: '--nodes' }, { args: ['--announcements', '10001'], option: '--announcements' }] },
  { name: 'inference-latency', file: 'dist/benchmarks/inference-latency.js', badValues: [{ args: ['--runs', '0'], option: '--runs' }, { args: ['--seconds', '0.1'], option: '--seconds' }, { args: ['--inflight', '65'], option: '--inflight' }] },
  // No options of its own: --no-such-option is the case (it used to run its work whatever its arguments).
  { name: 'ledger-bytes', file: 'dist/benchmarks/ledger-bytes.js', badValues: [] },
  { name: 'mesh-throughput', file: 'dist/benchmarks/mesh-throughput.js', badValues: [{ args: ['--size-mib', '513'], option: '--size-mib' }, { args: ['--only', 'both'], option: '--only' }, { args: ['--profile-dir', '/dev/null/profiles'], option: '--profile-dir' }] },
  // An option without its value is parseArgs' refusal, not the script's.
  { name: 'proof-costs', file: 'dist/benchmarks/proof-costs.js', badValues: [{ args: ['--runs', 'x'], option: '--runs' }, { args: ['--runs'], option: '--runs' }] },
  { name: 'seal-capacity', file: 'dist/benchmarks/seal-capacity.js', badValues: [{ args: ['--rate', '0'], option: '--rate' }, { args: ['--seconds', '1'], option: '--seconds' }, { args: ['--tensor-kib', '2048'], option: '--tensor-kib' }, { args: ['--concurrent-writes', '0'], option: '--concurrent-writes' }] },
  // --origin-cap-mib defaults to 4 × --cap-mib: a cap in range can put it out of range without its being given.
  { name: 'swarm', file: 'dist/benchmarks/swarm.js', badValues: [{ args: ['--nodes', '8,1'], option: '--nodes' }, { args: ['--chunk-mib', '3'], option: '--chunk-mib' }, { args: ['--link-queue', 'fq_codel'], option: '--link-queue' }, { args: ['--cap-mib', '512'], option: '--origin-cap-mib' }, { args: ['--timeline', '/dev/null/runs/timeline'], option: '--timeline' }] },
  { name: 'walrus-throughput', file: 'dist/benchmarks/walrus-throughput.js', badValues: [{ args: ['--runs', '0'], option: '--runs' }, { args: ['--mib', 'x'], option: '--mib' }, { args: ['--mib', '1.5'], option: '--mib' }] },
  { name: 'sample-request-log', file: 'dist/sim/sample-request-log.js', badValues: [{ args: ['--requests', '0'], option: '--requests' }] }
]

interface Ended { code: number | null, signal: string | null, stdout: string, stderr: string }

/**
 * How `file` ended with `args`, whatever its exit code. It runs in the
 * temporary directory: a script that went on to its work by mistake writes
 * nothing into the checkout (sample-request-log's output path is relative).
 */
async function run (file: string, args: string[]): Promise<Ended> {
  return await new Promise(resolve => {
    execFile(process.execPath, [join(ROOT, file), ...args], { cwd: tmpdir(), timeout: RUN_MS }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : null, signal: err?.signal ?? null, stdout, stderr })
    })
  })
}

/** Refused as a person should see it: exit 2, the script's name and the problem first, the usage under it, no stack trace. */
function assertRefused (name: string, ended: Ended, named: string, what: string): void {
  assert.equal(ended.code, 2, `${what}: exit ${ended.code} (signal ${ended.signal}); stderr:\n${ended.stderr}`)
  const first = ended.stderr.split('\n')[0] ?? ''
  assert.ok(first.startsWith(`${name}: `) && first.includes(named), `${what}: the first line of stderr names neither ${name} nor ${named}: ${first}`)
  assert.match(ended.stderr, /^usage: /m, what)
  assert.doesNotMatch(ended.stderr, /^ {4}at /m, `${what}: a stack trace`)
  assert.equal(ended.stdout, '', `${what}: stdout`)
}

// Two scripts at a time, each one's cases at once: a script's imports take up to a second of CPU, and the machine has two cores.
describe('a benchmark\'s command line', { concurrency: 2 }, () => {
  for (const { name, file, badValues } of SCRIPTS) {
    it(`${name}: --help, an unknown option and a bad value`, { timeout: 2 * RUN_MS }, async () => {
      const [help, unknown, ...bad] = await Promise.all([
        run(file, ['--help']),
        run(file, ['--no-such-option']),
        ...badValues.map(async ({ args }) => await run(file, args))
      ])
      assert.ok(help != null && unknown != null)

      assert.equal(help.code, 0, `--help: exit ${help.code} (signal ${help.signal}); stderr:\n${help.stderr}`)
      assert.match(help.stdout, /^usage: /, '--help')
      assert.doesNotMatch(help.stderr, /^ {4}at /m, '--help: a stack trace')
      for (const { option } of badValues) assert.ok(help.stdout.includes(option), `--help does not list ${option}`)

      assertRefused(name, unknown, '--no-such-option', '--no-such-option')
      badValues.forEach(({ args, option }, i) => { assertRefused(name, bad[i] as Ended, option, args.join(' ')) })
    })
  }

  it('-h is --help', { timeout: 2 * RUN_MS }, async () => {
    const ended = await run('dist/benchmarks/cache-policy.js', ['-h'])
    assert.equal(ended.code, 0, ended.stderr)
    assert.match(ended.stdout, /^usage: cache-policy /)
  })
})
