import ort from 'onnxruntime-node'

/** Seeded linear congruential values in [-0.5, 0.5): the same input tensor wherever a test or benchmark asks for it. */
export function seededTensor (dims: number[], seed: number): ort.Tensor {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1))
  let x = seed
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    data[i] = x / 2 ** 31 - 0.5
  }
  return new ort.Tensor('float32', data, dims)
}
