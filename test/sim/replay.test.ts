import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { POLICY_NAMES } from '../../src/blob/cache/policy.js'
import { parseRequestLine, RequestLog } from '../../src/blob/cache/request-log.js'
import { RequestRecorder } from '../../src/blob/cache/request-recorder.js'
import { formatReplay, readRequestLog, replayLog } from '../../sim/replay.js'
import { sampleRequestLog } from '../../sim/sample-request-log.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const SAMPLE = join(root, 'sim/samples/request-log.jsonl')

describe('request log and replay', () => {
  it('the sample log in the repo is the simulator\'s output', async () => {
    const lines = (await readFile(SAMPLE, 'utf8')).trimEnd().split('\n')
    assert.deepEqual(lines, sampleRequestLog(3000, 0.1, 16).records.map(r => JSON.stringify(r)))
  })

  it('herd sim replay plays the sample log through every policy and the offline bound, end to end', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'dist/src/cli/index.js'), 'sim', 'replay', SAMPLE, '--cache-sizes', '10%,8GiB', '--json'], { cwd: root })
    const out = JSON.parse(stdout.trim().split('\n').at(-1) as string)
    assert.equal(out.requests, 3000)
    assert.equal(out.rows.length, 2 * (POLICY_NAMES.length + 1))
    const summary = await readRequestLog([SAMPLE])
    assert.equal(out.missBytes, summary.missBytes)
    for (const size of [...new Set(out.rows.map((r: { cacheBytes: number }) => r.cacheBytes))]) {
      const rows = out.rows.filter((r: { cacheBytes: number }) => r.cacheBytes === size)
      const offline = rows.find((r: { policy: string }) => r.policy === 'offline')
      for (const r of rows) assert.ok(r.fetchedBytes >= offline.fetchedBytes, `${r.policy} fetched less than the offline bound`)
    }
    for (const r of out.rows) assert.equal(r.walrusBytes, r.fetchedBytes, 'every miss of the sample came from Walrus')
    // The node ran aged LFU at its quota: replaying that policy at that quota fetches exactly what the node fetched.
    const [same] = replayLog(summary, ['aged-lfu'], [sampleRequestLog(3000, 0.1, 16).quotaBytes])
    assert.equal(same?.savedBytes, 0)
    assert.equal(same?.fetchedBytes, summary.missBytes)
  })

  it('says what another quota would have saved in Walrus bytes, at the log\'s share of misses from Walrus', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herd-replay-'))
    try {
      // Two blobs of 100 bytes asked for alternately; the node fetched a from Walrus and b from a peer, then hit both.
      const log = [
        { t: 1, blob: 'a', size: 100, source: 'walrus', hit: false, ms: 10 },
        { t: 2, blob: 'b', size: 100, source: 'peer', hit: false, ms: 10 },
        { t: 3, blob: 'a', size: 100, source: 'cache', hit: true },
        { t: 4, blob: 'b', size: 100, source: 'cache', hit: true }
      ]
      const path = join(dir, 'requests.jsonl')
      await writeFile(path, log.map(r => JSON.stringify(r)).join('\n') + '\n')
      const summary = await readRequestLog([path])
      assert.equal(summary.walrusBytes, 100)
      const [same, smaller] = replayLog(summary, ['lru'], [200, 100]).filter(r => r.policy === 'lru')
      assert.deepEqual([same?.fetchedBytes, same?.walrusBytes, same?.savedWalrusBytes], [200, 100, 0])
      // Room for one: all four requests miss, half of their bytes from Walrus.
      assert.deepEqual([smaller?.fetchedBytes, smaller?.walrusBytes, smaller?.savedWalrusBytes, smaller?.savedMs], [400, 200, -100, -20])
      const table = formatReplay(summary, replayLog(summary, ['lru'], [100]))
      assert.match(table, /\| policy \| byte hit ratio \| object hit ratio \| fetched \| saved \| from Walrus \| Walrus saved \| time saved \|/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('herd sim replay says what is wrong with --cache-sizes, before reading the log', async () => {
    const run = async (sizes: string): Promise<{ code: number, stderr: string }> => promisify(execFile)(process.execPath, [join(root, 'dist/src/cli/index.js'), 'sim', 'replay', SAMPLE, '--cache-sizes', sizes], { cwd: root })
      .then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => ({ code: err.code, stderr: err.stderr }))
    for (const [sizes, why] of [['abc', /--cache-sizes must be a size/], ['0%', /above 0% and at most 100%/], [Array.from({ length: 33 }, () => '1GiB').join(','), /at most 32 sizes/]] as const) {
      const { code, stderr } = await run(sizes)
      assert.equal(code, 1, sizes)
      assert.match(stderr, why, sizes)
    }
  })

  it('refuses a bad line by name, and skips only an unterminated last line', async () => {
    assert.throws(() => parseRequestLine('{"t":1,"blob":"a","size":1,"source":"cache","hit":false}', 3), { name: 'RequestLogFormatError' })
    assert.throws(() => parseRequestLine('{"t":1,"blob":"a b","size":1,"source":"walrus","hit":false}', 3), { name: 'RequestLogFormatError' })
    assert.throws(() => parseRequestLine('nope', 1), { name: 'RequestLogFormatError' })
    const dir = await mkdtemp(join(tmpdir(), 'herd-replay-'))
    try {
      const good = '{"t":1,"blob":"a","size":10,"source":"walrus","hit":false}\n{"t":2,"blob":"a","size":10,"source":"cache","hit":true}\n'
      await writeFile(join(dir, 'torn.jsonl'), good + '{"t":3,"blob":"a","si')
      assert.equal((await readRequestLog([join(dir, 'torn.jsonl')])).trace.requests.length, 2)
      await writeFile(join(dir, 'bad.jsonl'), '{"t":3}\n' + good)
      await assert.rejects(readRequestLog([join(dir, 'bad.jsonl')]), { name: 'RequestLogFormatError' })
      await writeFile(join(dir, 'sizes.jsonl'), good + '{"t":3,"blob":"a","size":11,"source":"walrus","hit":false}\n')
      await assert.rejects(readRequestLog([join(dir, 'sizes.jsonl')]), { name: 'RequestLogFormatError' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the writer appends whole lines, rotates past maxBytes, and keeps at most two files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herd-request-log-'))
    try {
      const path = join(dir, 'requests.jsonl')
      const log = new RequestLog({ path, maxBytes: 1024 })
      for (let i = 0; i < 40; i++) log.record({ t: i, blob: `blob${i}`, size: 100, source: i % 2 === 0 ? 'cache' : 'walrus', hit: i % 2 === 0 })
      await log.flush()
      const current = await readFile(path, 'utf8')
      const rotated = await readFile(`${path}.1`, 'utf8')
      assert.ok(current.length <= 1024 && rotated.length <= 1024)
      const summary = await readRequestLog([`${path}.1`, path])
      const kept = summary.trace.ids.length
      assert.ok(kept > 10 && kept < 40, `${kept} records in the two files`)
      assert.equal(summary.trace.ids.at(-1), 'blob39', 'the newest record is last, whole')
      assert.throws(() => { log.record({ t: 1, blob: 'x y', size: 1, source: 'cache', hit: true }) }, { name: 'RequestLogFormatError' })
      assert.throws(() => new RequestLog({ path, maxBytes: 10 }), RangeError)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the recorder logs a hit at once and a miss when its download is done, with where its bytes came from', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herd-request-recorder-'))
    try {
      const path = join(dir, 'requests.jsonl')
      const log = new RequestLog({ path, maxBytes: 1 << 20 })
      let now = 1000
      const recorder = new RequestRecorder(log, () => now)
      recorder.requested('held', 5)
      recorder.requested('cold', undefined)
      recorder.requested('cold', undefined)
      now = 1250
      recorder.done({ type: 'fetch:start', blobId: 'cold', size: 9 })
      recorder.done({ type: 'fetch:done', blobId: 'other', size: 9, bytesFromWalrus: 9 })
      recorder.done({ type: 'fetch:done', blobId: 'cold', size: 9, bytesFromWalrus: 0 })
      await log.flush()
      const records = (await readFile(path, 'utf8')).trimEnd().split('\n').map((line, i) => parseRequestLine(line, i + 1))
      assert.deepEqual(records, [
        { t: 1000, blob: 'held', size: 5, source: 'cache', hit: true, ms: 0 },
        { t: 1000, blob: 'cold', size: 9, source: 'peer', hit: false, ms: 250 },
        { t: 1000, blob: 'cold', size: 9, source: 'peer', hit: false, ms: 250 }
      ])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
