import { createHash } from 'node:crypto'
import type ort from 'onnxruntime-node'
import { writer } from 'protons-runtime'
import { Tensor as TensorProto } from '../inference/pb/infer.js'
import { DEFAULT_TENSOR_LIMITS, tensorsFromProto, tensorToProto, type TensorLimits } from '../inference/tensor-codec.js'
import { ProofFormatError } from './errors.js'
import { TensorSet } from './pb/proof.js'

/** TensorSet field 1 (`tensors`), length-delimited. */
const TENSOR_SET_ENTRY_TAG = (1 << 3) | 2

/**
 * The canonical form of a named tensor list, as a receipt hashes it: a
 * `TensorSet` whose entries are the `Tensor` encodings of
 * /herd/infer/1.0.0 (`tensorToProto`), sorted by name in UTF-8 byte order.
 * The same tensors give the same bytes whatever order the record lists them in.
 */
export function canonicalTensors (tensors: Readonly<Record<string, ort.Tensor>>): Uint8Array {
  const named = Object.entries(tensors).map(([name, tensor]) => ({ key: Buffer.from(name, 'utf8'), name, tensor }))
  named.sort((a, b) => Buffer.compare(a.key, b.key))
  // The bytes of TensorSet.encode over each Tensor's encoding, written in one pass: one allocation of the set's size, not two copies of every tensor.
  const w = writer()
  for (const { name, tensor } of named) {
    w.uint32(TENSOR_SET_ENTRY_TAG)
    TensorProto.codec().encode(tensorToProto(name, tensor), w)
  }
  return w.finish()
}

/** A tensor record's canonical encoding and its SHA-256, kept with the record they were made from. */
export class HashedTensors {
  readonly of: Readonly<Record<string, ort.Tensor>>
  readonly bytes: Uint8Array
  readonly hash: Uint8Array

  constructor (tensors: Readonly<Record<string, ort.Tensor>>) {
    this.of = tensors
    this.bytes = canonicalTensors(tensors)
    this.hash = hashTensorSet(this.bytes)
  }
}

/** SHA-256 of the canonical encoding (32 bytes). */
export function hashTensors (tensors: Readonly<Record<string, ort.Tensor>>): Uint8Array {
  return hashTensorSet(canonicalTensors(tensors))
}

/** SHA-256 of `TensorSet` bytes already in canonical form (32 bytes). */
export function hashTensorSet (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/**
 * Reads canonical `TensorSet` bytes back into tensors (to re-execute a run
 * from a bundle), within `limits`. Refuses names out of order or repeated,
 * so only the canonical encoding of a record is accepted; throws
 * ProofFormatError saying what is wrong.
 */
export function tensorsFromSet (bytes: Uint8Array, limits?: Partial<TensorLimits>): Record<string, ort.Tensor> {
  const maxTensors = limits?.maxTensors ?? DEFAULT_TENSOR_LIMITS.maxTensors
  const maxDims = limits?.maxDims ?? DEFAULT_TENSOR_LIMITS.maxDims
  const maxElements = limits?.maxElements ?? DEFAULT_TENSOR_LIMITS.maxElements
  let entries: Uint8Array[]
  try {
    entries = TensorSet.decode(bytes, { limits: { tensors: maxTensors } }).tensors
  } catch (err) {
    throw new ProofFormatError(`not a tensor set: ${(err as Error).message}`)
  }
  const list: TensorProto[] = []
  let previous: Buffer | undefined
  for (const [i, entry] of entries.entries()) {
    let pb: TensorProto
    try {
      pb = TensorProto.decode(entry, { limits: { dims: maxDims, strings: maxElements } })
    } catch (err) {
      throw new ProofFormatError(`tensor ${i} of the set does not decode: ${(err as Error).message}`)
    }
    const key = Buffer.from(pb.name, 'utf8')
    if (previous != null && Buffer.compare(previous, key) >= 0) {
      throw new ProofFormatError(`tensor ${JSON.stringify(pb.name)} is out of order or repeated: a tensor set is sorted by name`)
    }
    previous = key
    list.push(pb)
  }
  try {
    return tensorsFromProto(list, limits)
  } catch (err) {
    throw new ProofFormatError(`tensor set: ${(err as Error).message}`)
  }
}
