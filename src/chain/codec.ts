import { createHash } from 'node:crypto'
import { bcs } from '@mysten/sui/bcs'
import { toBase58 } from '@mysten/sui/utils'
import { blobIdFromBytes, blobIdToBytes } from '../blob/blob-id.js'
import { InvalidTransactionError } from './errors.js'
import type { AnchorInput, Dimension, ModelInput, TensorSpec } from './types.js'

/** A signed transaction is small: references, never data. */
export const MAX_TX_BYTES = 16 * 1024
/** Ed25519 in Sui's serialized form: flag (0x00), 64-byte signature, 32-byte public key. */
export const SIGNATURE_BYTES = 97

const Dim = bcs.enum('Dim', { Fixed: bcs.u64(), Named: bcs.string() })
const Tensor = bcs.struct('Tensor', { name: bcs.string(), type: bcs.string(), shape: bcs.vector(Dim) })
const Model = bcs.struct('Model', {
  name: bcs.string(),
  version: bcs.string(),
  blobId: bcs.fixedArray(32, bcs.u8()),
  size: bcs.u64(),
  chunkSize: bcs.u32(),
  chunkRoot: bcs.fixedArray(32, bcs.u8()),
  chunkHashesBlobId: bcs.fixedArray(32, bcs.u8()),
  format: bcs.string(),
  inputs: bcs.vector(Tensor),
  outputs: bcs.vector(Tensor)
})
const Anchor = bcs.struct('Anchor', { root: bcs.fixedArray(32, bcs.u8()), count: bcs.u32(), bundleBlobId: bcs.fixedArray(32, bcs.u8()) })
export const TxBody = bcs.enum('TxBody', { RegisterModel: Model, Anchor })
export const SignedTx = bcs.struct('SignedTx', { body: bcs.byteVector(), signature: bcs.fixedArray(SIGNATURE_BYTES, bcs.u8()) })
export const Block = bcs.struct('Block', { height: bcs.u64(), prevHash: bcs.fixedArray(32, bcs.u8()), time: bcs.u64(), tx: SignedTx })

export type TxPayload =
  | { kind: 'registerModel', model: Omit<ModelInput, 'blobObjectId'> }
  | { kind: 'anchor', anchor: Omit<AnchorInput, 'bundleObjectId'> }

export interface DecodedBlock {
  height: number
  prevHash: Uint8Array
  time: number
  body: Uint8Array
  signature: Uint8Array
  /** The exact bytes of the signed transaction, whose hash is the transaction ID. */
  txBytes: Uint8Array
}

const hex = (bytes: Iterable<number>): string => Buffer.from(Uint8Array.from(bytes)).toString('hex')
const fromHex = (value: string): number[] => [...Buffer.from(value, 'hex')]

function encodeTensors (tensors: TensorSpec[]): Array<{ name: string, type: string, shape: Array<{ Fixed: number } | { Named: string }> }> {
  return tensors.map(t => ({ name: t.name, type: t.type, shape: t.shape.map(d => typeof d === 'number' ? { Fixed: d } : { Named: d }) }))
}

function decodeTensors (tensors: Array<{ name: string, type: string, shape: Array<{ Fixed?: string, Named?: string }> }>): TensorSpec[] {
  return tensors.map(t => ({ name: t.name, type: t.type, shape: t.shape.map((d): Dimension => d.Named ?? Number(d.Fixed)) }))
}

export function encodeTxBody (payload: TxPayload): Uint8Array {
  if (payload.kind === 'registerModel') {
    const m = payload.model
    return TxBody.serialize({
      RegisterModel: {
        name: m.name,
        version: m.version,
        blobId: [...blobIdToBytes(m.blobId)],
        size: m.size,
        chunkSize: m.chunkSize,
        chunkRoot: fromHex(m.chunkRoot),
        chunkHashesBlobId: [...blobIdToBytes(m.chunkHashesBlobId)],
        format: m.format,
        inputs: encodeTensors(m.inputs),
        outputs: encodeTensors(m.outputs)
      }
    }).toBytes()
  }
  const a = payload.anchor
  return TxBody.serialize({ Anchor: { root: fromHex(a.root), count: a.count, bundleBlobId: [...blobIdToBytes(a.bundleBlobId)] } }).toBytes()
}

/** Parses bytes that must be the canonical encoding of `schema`: trailing or non-canonical bytes are refused. */
function parseExact<T> (schema: { parse: (b: Uint8Array) => T, serialize: (v: any) => { toBytes: () => Uint8Array } }, bytes: Uint8Array, what: string): T {
  let value: T
  try {
    value = schema.parse(bytes)
  } catch (err) {
    throw new InvalidTransactionError(`${what} is not valid BCS: ${(err as Error).message}`)
  }
  if (!Buffer.from(schema.serialize(value).toBytes()).equals(bytes)) throw new InvalidTransactionError(`${what} has trailing or non-canonical bytes`)
  return value
}

export function decodeTxBody (bytes: Uint8Array): TxPayload {
  const body = parseExact(TxBody, bytes, 'transaction body') as { RegisterModel?: any, Anchor?: any }
  if (body.RegisterModel != null) {
    const m = body.RegisterModel
    return {
      kind: 'registerModel',
      model: {
        name: m.name,
        version: m.version,
        blobId: blobIdFromBytes(Uint8Array.from(m.blobId)),
        size: Number(m.size),
        chunkSize: m.chunkSize,
        chunkRoot: hex(m.chunkRoot),
        chunkHashesBlobId: blobIdFromBytes(Uint8Array.from(m.chunkHashesBlobId)),
        format: m.format,
        inputs: decodeTensors(m.inputs),
        outputs: decodeTensors(m.outputs)
      }
    }
  }
  const a = body.Anchor
  return { kind: 'anchor', anchor: { root: hex(a.root), count: a.count, bundleBlobId: blobIdFromBytes(Uint8Array.from(a.bundleBlobId)) } }
}

export function encodeSignedTx (body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== SIGNATURE_BYTES) throw new InvalidTransactionError(`signature must be ${SIGNATURE_BYTES} bytes (Ed25519, Sui serialized), got ${signature.length}`)
  return SignedTx.serialize({ body, signature: [...signature] }).toBytes()
}

export function decodeSignedTx (bytes: Uint8Array): { body: Uint8Array, signature: Uint8Array } {
  if (bytes.length > MAX_TX_BYTES) throw new InvalidTransactionError(`transaction of ${bytes.length} bytes is over the ${MAX_TX_BYTES} byte limit`)
  const tx = parseExact(SignedTx, bytes, 'signed transaction')
  return { body: Uint8Array.from(tx.body), signature: Uint8Array.from(tx.signature) }
}

export function encodeBlock (block: { height: number, prevHash: Uint8Array, time: number, txBytes: Uint8Array }): Uint8Array {
  const tx = decodeSignedTx(block.txBytes)
  return Block.serialize({ height: block.height, prevHash: [...block.prevHash], time: block.time, tx: { body: tx.body, signature: [...tx.signature] } }).toBytes()
}

export function decodeBlock (bytes: Uint8Array): DecodedBlock {
  const block = parseExact(Block, bytes, 'block')
  const body = Uint8Array.from(block.tx.body)
  const signature = Uint8Array.from(block.tx.signature)
  return { height: Number(block.height), prevHash: Uint8Array.from(block.prevHash), time: Number(block.time), body, signature, txBytes: encodeSignedTx(body, signature) }
}

export function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** Transaction IDs are base58 SHA-256 of the signed transaction, in the style of Sui digests. */
export function txIdOf (txBytes: Uint8Array): string {
  return toBase58(sha256(txBytes))
}

export const GENESIS_PREV_HASH = new Uint8Array(32)
