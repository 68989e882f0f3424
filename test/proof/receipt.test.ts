import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import ort from 'onnxruntime-node'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { Tensor as TensorProto } from '../../src/inference/pb/infer.js'
import { tensorToProto } from '../../src/inference/tensor-codec.js'
import { signEd25519 } from '../../src/chain/ed25519-signer.js'
import { Receipt, SignedReceipt, TensorSet } from '../../src/proof/pb/proof.js'
import {
  decodeSignedReceipt, RECEIPT_SIGNING_PREFIX, RECEIPT_VERSION, receiptPeerId, receiptSigner, signReceipt,
  verifyReceiptSignature, type ReceiptFields
} from '../../src/proof/receipt.js'
import { canonicalTensors, hashTensors, hashTensorSet, tensorsFromSet } from '../../src/proof/tensor-hash.js'

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

function fields (keypair: Ed25519Keypair, overrides: Partial<ReceiptFields> = {}): ReceiptFields {
  return {
    modelBlobId: blobIdFromBytes(randomBytes(32)),
    chunkRoot: randomBytes(32).toString('hex'),
    inputsHash: randomBytes(32),
    outputsHash: randomBytes(32),
    nodePublicKey: keypair.getPublicKey().toRawBytes(),
    time: 1_750_000_000_000,
    seq: 1n,
    ...overrides
  }
}

/** A SignedReceipt around any Receipt bytes, properly signed, to test the decoder rather than the signature. */
async function signRaw (receiptBytes: Uint8Array, keypair: Ed25519Keypair): Promise<Uint8Array> {
  const message = Buffer.concat([Buffer.from(RECEIPT_SIGNING_PREFIX), receiptBytes])
  return SignedReceipt.encode({ receipt: new Uint8Array(receiptBytes), signature: await keypair.sign(message) })
}

/** A protobuf field: tag, then the varint or length-delimited value. */
function varint (n: bigint): number[] {
  const out: number[] = []
  do {
    let byte = Number(n & 0x7fn)
    n >>= 7n
    if (n > 0n) byte |= 0x80
    out.push(byte)
  } while (n > 0n)
  return out
}
function field (number: number, value: bigint | Uint8Array): Uint8Array {
  if (typeof value === 'bigint') return new Uint8Array([...varint(BigInt(number << 3)), ...varint(value)])
  return new Uint8Array([...varint(BigInt((number << 3) | 2)), ...varint(BigInt(value.length)), ...value])
}

describe('tensor hashing', () => {
  const x = new ort.Tensor('float32', new Float32Array([1, 2.5, -3]), [1, 3])
  const ids = new ort.Tensor('int64', new BigInt64Array([7n, -1n]), [2])
  const words = new ort.Tensor('string', ['a', 'é'], [2])

  it('is independent of the order of the record and sorts names by UTF-8 bytes', () => {
    const a = canonicalTensors({ x, ids, 'é': words, Z: ids })
    const b = canonicalTensors({ 'é': words, Z: ids, ids, x })
    assert.deepEqual(a, b)
    const names = TensorSet.decode(a).tensors.map(t => Object.keys(tensorsFromSet(TensorSet.encode({ tensors: [t] })))[0])
    assert.deepEqual(names, ['Z', 'ids', 'x', 'é'])
    assert.equal(hashTensors({ x, ids }).length, 32)
    assert.deepEqual(hashTensors({ x, ids }), new Uint8Array(sha256(canonicalTensors({ ids, x }))))
    assert.deepEqual(hashTensorSet(a), new Uint8Array(sha256(a)))
    assert.notDeepEqual(hashTensors({ x }), hashTensors({ x: new ort.Tensor('float32', new Float32Array([1, 2.5, -3]), [3]) }), 'dims are hashed')
  })

  it('is the TensorSet encoding of each tensor\'s /herd/infer/1.0.0 encoding, as receipts already issued hashed it', () => {
    const big = new ort.Tensor('float32', Float32Array.from({ length: 12_288 }, (_, i) => Math.sin(i)), [1, 3, 64, 64])
    for (const set of [{}, { x }, { x, ids, words }, { big, x }] as Array<Record<string, ort.Tensor>>) {
      const named = Object.entries(set).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      const twoSteps = TensorSet.encode({ tensors: named.map(([name, tensor]) => TensorProto.encode(tensorToProto(name, tensor))) })
      assert.deepEqual(canonicalTensors(set), twoSteps, Object.keys(set).join(','))
    }
  })

  it('reads a tensor set back, bit for bit', () => {
    const bytes = canonicalTensors({ x, ids, words })
    const back = tensorsFromSet(bytes)
    assert.deepEqual(Object.keys(back).sort(), ['ids', 'words', 'x'])
    assert.deepEqual(Array.from(back.x!.data as Float32Array), [1, 2.5, -3])
    assert.deepEqual(back.x!.dims, [1, 3])
    assert.deepEqual(Array.from(back.ids!.data as BigInt64Array), [7n, -1n])
    assert.deepEqual(back.words!.data, ['a', 'é'])
    assert.deepEqual(canonicalTensors(back), bytes)
    assert.deepEqual(tensorsFromSet(new Uint8Array(0)), {})
  })

  it('refuses sets out of order, repeated names, garbage and sets over the limits', () => {
    const entries = TensorSet.decode(canonicalTensors({ ids, x })).tensors
    assert.throws(() => tensorsFromSet(TensorSet.encode({ tensors: [...entries].reverse() })), { name: 'ProofFormatError', message: /out of order/ })
    assert.throws(() => tensorsFromSet(TensorSet.encode({ tensors: [entries[0]!, entries[0]!] })), { name: 'ProofFormatError' })
    assert.throws(() => tensorsFromSet(new Uint8Array([0x0a, 0x05, 1])), { name: 'ProofFormatError' })
    assert.throws(() => tensorsFromSet(TensorSet.encode({ tensors: [new Uint8Array([0xff, 0xff])] })), { name: 'ProofFormatError' })
    assert.throws(() => tensorsFromSet(canonicalTensors({ ids, x }), { maxTensors: 1 }), { name: 'ProofFormatError' })
    assert.throws(() => tensorsFromSet(canonicalTensors({ x }), { maxElements: 2 }), { name: 'ProofFormatError', message: /elements/ })
  })
})

describe('receipts', () => {
  const keypair = Ed25519Keypair.generate()

  it('signs a receipt that decodes back to the same fields, with plain Ed25519 over the prefixed bytes', async () => {
    const f = fields(keypair, { seq: 300n })
    const info = await signReceipt(f, keypair)
    assert.equal(info.id, sha256(info.receiptBytes).toString('hex'))
    assert.equal(info.signature.length, 64)
    const message = Buffer.concat([Buffer.from('herd-receipt-v1\0'), info.receiptBytes])
    assert.ok(await keypair.getPublicKey().verify(message, info.signature))

    const back = decodeSignedReceipt(info.bytes)
    assert.equal(back.id, info.id)
    assert.deepEqual(back.receiptBytes, info.receiptBytes)
    assert.deepEqual(back.signature, info.signature)
    assert.equal(back.receipt.modelBlobId, f.modelBlobId)
    assert.equal(back.receipt.chunkRoot, f.chunkRoot)
    assert.deepEqual(Buffer.from(back.receipt.inputsHash), Buffer.from(f.inputsHash))
    assert.deepEqual(Buffer.from(back.receipt.outputsHash), Buffer.from(f.outputsHash))
    assert.deepEqual(Buffer.from(back.receipt.nodePublicKey), Buffer.from(f.nodePublicKey))
    assert.equal(back.receipt.time, f.time)
    assert.equal(back.receipt.seq, 300n)
    assert.ok(await verifyReceiptSignature(back))
  })

  it('has the documented byte layout', async () => {
    const f = fields(keypair)
    const info = await signReceipt(f, keypair)
    const r = Buffer.from(info.receiptBytes)
    assert.deepEqual([...r.subarray(0, 2)], [0x08, RECEIPT_VERSION])
    for (const [i, tag] of [0x12, 0x1a, 0x22, 0x2a, 0x32].entries()) {
      assert.deepEqual([...r.subarray(2 + i * 34, 4 + i * 34)], [tag, 0x20])
    }
    assert.equal(r[172], 0x38)
    assert.deepEqual([...r.subarray(173, 179)], varint(BigInt(f.time)))
    assert.deepEqual([...r.subarray(179)], [0x40, 0x01])
    assert.equal(r.length, 181)
    assert.equal(info.bytes.length, 250)
    assert.deepEqual([...info.bytes.subarray(0, 3)], [0x0a, 0xb5, 0x01])
    assert.deepEqual([...info.bytes.subarray(184, 186)], [0x12, 0x40])
  })

  it('names the signer by its Sui address and its libp2p peer ID', async () => {
    const info = await signReceipt(fields(keypair), keypair)
    assert.equal(receiptSigner(info), keypair.toSuiAddress())
    const libp2pKey = await generateKeyPairFromSeed('Ed25519', decodeSuiPrivateKey(keypair.getSecretKey()).secretKey)
    assert.equal(receiptPeerId(info), peerIdFromPrivateKey(libp2pKey).toString())
  })

  it('refuses to sign for another key or with malformed fields', async () => {
    const other = Ed25519Keypair.generate()
    await assert.rejects(signReceipt(fields(other), keypair), { name: 'InvalidReceiptError' })
    for (const bad of [
      { seq: 0n }, { time: 0 }, { time: 1.5 }, { inputsHash: randomBytes(31) }, { outputsHash: randomBytes(33) },
      { chunkRoot: 'abc' }, { modelBlobId: 'nope' as any }, { seq: 2n ** 64n }
    ] as Array<Partial<ReceiptFields>>) {
      await assert.rejects(signReceipt(fields(keypair, bad), keypair), { name: 'InvalidReceiptError' }, JSON.stringify(Object.keys(bad)))
    }
  })

  it('signs through OpenSSL with the same bytes as the Sui SDK\'s Ed25519', async () => {
    const info = await signReceipt(fields(keypair), keypair)
    const message = Buffer.concat([Buffer.from(RECEIPT_SIGNING_PREFIX), info.receiptBytes])
    assert.deepEqual(info.signature, await keypair.sign(message))
    assert.deepEqual(signEd25519(keypair, message), info.signature)
    assert.equal(await verifyReceiptSignature(info), true)
  })

  it('verifies only the right signature over the right bytes', async () => {
    const a = await signReceipt(fields(keypair), keypair)
    const b = await signReceipt(fields(keypair, { seq: 2n }), keypair)
    assert.equal(await verifyReceiptSignature({ ...a, signature: b.signature }), false)
    const flipped = new Uint8Array(a.receiptBytes)
    flipped[100] = (flipped[100] as number) ^ 1
    assert.equal(await verifyReceiptSignature({ ...a, receiptBytes: flipped }), false)
    // A Sui personal-message signature of the same bytes is not a receipt signature.
    const personal = await keypair.signPersonalMessage(Buffer.concat([Buffer.from(RECEIPT_SIGNING_PREFIX), a.receiptBytes]))
    const raw = Buffer.from(personal.signature, 'base64').subarray(1, 65)
    assert.equal(await verifyReceiptSignature({ ...a, signature: new Uint8Array(raw) }), false)
    assert.equal(await verifyReceiptSignature({ ...a, signature: new Uint8Array(10) }), false)
  })

  it('decodes only canonical, well-formed receipts', async () => {
    const f = fields(keypair)
    const good = await signReceipt(f, keypair)
    const base: Receipt = Receipt.decode(good.receiptBytes)
    const bad = async (receiptBytes: Uint8Array): Promise<Uint8Array> => signRaw(receiptBytes, keypair)
    const cases: Array<[string, Uint8Array | Promise<Uint8Array>, RegExp]> = [
      ['empty', new Uint8Array(0), /empty/],
      ['garbage', randomBytes(40), /./],
      ['too long', new Uint8Array(600), /limit/],
      ['truncated', good.bytes.subarray(0, 100), /not a signed receipt/],
      ['no receipt', SignedReceipt.encode({ signature: new Uint8Array(good.signature) }), /no receipt/],
      ['short signature', SignedReceipt.encode({ receipt: new Uint8Array(good.receiptBytes), signature: new Uint8Array(good.signature.subarray(0, 63)) }), /signature is 63 bytes/],
      ['unknown field in the signed receipt', Buffer.concat([good.bytes, field(3, 1n)]), /signed receipt is not canonically encoded/],
      ['fields of the signed receipt reordered', Buffer.concat([field(2, good.signature), field(1, good.receiptBytes)]), /signed receipt is not canonically encoded/],
      ['not a receipt inside', bad(new Uint8Array([0x12, 0x40, 1, 2])), /not a receipt/],
      ['version 2', bad(Receipt.encode({ ...base, version: 2 })), /version 2/],
      ['no version', bad(Receipt.encode({ ...base, version: 0 })), /version 0/],
      ['short model ID', bad(Receipt.encode({ ...base, modelBlobId: base.modelBlobId.subarray(0, 31) })), /modelBlobId is 31 bytes/],
      ['long chunk root', bad(Receipt.encode({ ...base, chunkRoot: new Uint8Array(33) })), /chunkRoot is 33 bytes/],
      ['no inputs hash', bad(Receipt.encode({ ...base, inputsHash: new Uint8Array(0) })), /inputsHash is 0 bytes/],
      ['short outputs hash', bad(Receipt.encode({ ...base, outputsHash: new Uint8Array(16) })), /outputsHash is 16 bytes/],
      ['short key', bad(Receipt.encode({ ...base, nodePublicKey: new Uint8Array(20) })), /nodePublicKey is 20 bytes/],
      ['seq 0', bad(Receipt.encode({ ...base, seq: 0n })), /seq is 0/],
      ['time 0', bad(Receipt.encode({ ...base, time: 0n })), /time is 0/],
      ['time beyond any date', bad(Receipt.encode({ ...base, time: 2n ** 60n })), /beyond/],
      ['unknown field in the receipt', bad(Buffer.concat([good.receiptBytes, field(9, 5n)])), /receipt is not canonically encoded/],
      ['a field repeated', bad(Buffer.concat([good.receiptBytes, field(8, 1n)])), /receipt is not canonically encoded/],
      ['fields reordered', bad(Buffer.concat([good.receiptBytes.subarray(2), good.receiptBytes.subarray(0, 2)])), /receipt is not canonically encoded/],
      ['a zero written out', bad(Buffer.concat([good.receiptBytes.subarray(0, 179), field(8, 0n), field(8, 1n)])), /receipt is not canonically encoded/],
      ['a padded varint', bad(Buffer.concat([good.receiptBytes.subarray(0, 179), new Uint8Array([0x40, 0x81, 0x00])])), /receipt is not canonically encoded/]
    ]
    for (const [what, bytes, message] of cases) {
      const resolved = await bytes
      assert.throws(() => decodeSignedReceipt(new Uint8Array(resolved)), (err: Error) => err.name === 'ProofFormatError' && message.test(err.message), what)
    }
  })

  it('does not alias the bytes it was given', async () => {
    const info = await signReceipt(fields(keypair), keypair)
    const bytes = new Uint8Array(info.bytes)
    const back = decodeSignedReceipt(bytes)
    bytes.fill(0)
    assert.deepEqual(back.bytes, info.bytes)
    assert.ok(await verifyReceiptSignature(back))
  })
})
