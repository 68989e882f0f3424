import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
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
  const runner = new WorkerRunner({ workers: 2, spreadMaxLoadMs })
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
  it('loads a quick-loading hot model on the idle worker too, so two runs at once use both threads', async () => {
    assert.deepEqual(await sessionsAfterConcurrentRuns(1_000), { sessions: 2, loads: 2 })
  })

  it('keeps a model whose load is too slow to spread on its warm worker', async () => {
    assert.deepEqual(await sessionsAfterConcurrentRuns(0), { sessions: 1, loads: 1 })
  })
})
