import { randomBytes } from 'node:crypto'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import type { ModelInput } from '../../src/chain/types.js'

const hex32 = (): string => randomBytes(32).toString('hex')

/** A well-formed registry entry with random references. */
export function sampleModel (overrides: Partial<ModelInput> = {}): ModelInput {
  return {
    name: 'tiny-mlp',
    version: '1',
    blobId: blobIdFromBytes(randomBytes(32)),
    size: 1234,
    chunkSize: 1024 * 1024,
    chunkRoot: hex32(),
    chunkHashesBlobId: blobIdFromBytes(randomBytes(32)),
    format: 'onnx',
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 3, 224, 224] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', 10] }],
    ...overrides
  }
}

