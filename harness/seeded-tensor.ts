import ort from 'onnxruntime-node'
import { seededRandom } from '../src/seeded-random.js'

/** Seeded values in [-0.5, 0.5): the same input tensor wherever a test or benchmark asks for it. */
export function seededTensor (dims: number[], seed: number): ort.Tensor {
  const random = seededRandom(seed)
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1))
  for (let i = 0; i < data.length; i++) data[i] = random() - 0.5
  return new ort.Tensor('float32', data, dims)
}
