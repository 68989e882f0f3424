import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import ort from 'onnxruntime-node'
import { blobIdFromBytes, blobIdToBytes } from '../../src/blob/blob-id.js'
import { LocalLedger } from '../../src/chain/local-ledger.js'
import type { AnchorEntry, AnchorReceipt, Ledger } from '../../src/chain/types.js'
import { BUNDLE_VERSION, encodeBundle, receiptRoot, receiptsSectionBound } from '../../src/proof/bundle.js'
import { Bundle, Receipt, SignedReceipt } from '../../src/proof/pb/proof.js'
import { buildProof, parseProof, type ReceiptProof } from '../../src/proof/proof.js'
import { decodeSignedReceipt, RECEIPT_SIGNING_PREFIX, signReceipt, type SignedReceiptInfo } from '../../src/proof/receipt.js'
import { canonicalTensors, hashTensorSet, tensorsFromSet } from '../../src/proof/tensor-hash.js'
import { verifyProof, type ProofVerification, type VerifyProofDeps } from '../../src/proof/verify.js'
import { WalrusProtocolError } from '../../src/walrus/errors.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { LocalWalrus } from '../../src/walrus/local/server.js'
import { startLocalWalrus, tempDir } from '../helpers/devnet.js'

const MODEL = blobIdFromBytes(randomBytes(32))
const CHUNK_ROOT = randomBytes(32).toString('hex')

/** The "model": y = 2x + 1, and the sum of the int64 ids. */
function model (inputs: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const x = inputs.x!.data as Float32Array
  const ids = inputs.ids!.data as BigInt64Array
  return {
    y: new ort.Tensor('float32', Float32Array.from(x, v => 2 * v + 1), inputs.x!.dims),
    total: new ort.Tensor('int64', new BigInt64Array([ids.reduce((a, b) => a + b, 0n)]), [1])
  }
}

function run (i: number): { inputs: Record<string, ort.Tensor>, outputs: Record<string, ort.Tensor> } {
  const inputs = {
    x: new ort.Tensor('float32', new Float32Array([i, i + 0.5, -i]), [1, 3]),
    ids: new ort.Tensor('int64', new BigInt64Array([BigInt(i), 40n]), [2])
  }
  return { inputs, outputs: model(inputs) }
}

/** A re-executor that runs the "model" for real on the bundle's inputs. */
const honest: NonNullable<VerifyProofDeps['reexecute']> = async ({ modelBlobId, inputs }) => {
  assert.equal(modelBlobId, MODEL)
  return canonicalTensors(model(tensorsFromSet(inputs)))
}

async function issue (keypair: Ed25519Keypair, i: number, seq: bigint): Promise<{ info: SignedReceiptInfo, inputs: Uint8Array, outputs: Uint8Array }> {
  const { inputs, outputs } = run(i)
  const inBytes = canonicalTensors(inputs)
  const outBytes = canonicalTensors(outputs)
  const info = await signReceipt({
    modelBlobId: MODEL,
    chunkRoot: CHUNK_ROOT,
    inputsHash: hashTensorSet(inBytes),
    outputsHash: hashTensorSet(outBytes),
    nodePublicKey: keypair.getPublicKey().toRawBytes(),
    time: Date.now(),
    seq
  }, keypair)
  return { info, inputs: inBytes, outputs: outBytes }
}

async function signRaw (receiptBytes: Uint8Array, keypair: Ed25519Keypair): Promise<Uint8Array> {
  const signature = await keypair.sign(Buffer.concat([Buffer.from(RECEIPT_SIGNING_PREFIX), receiptBytes]))
  return SignedReceipt.encode({ receipt: new Uint8Array(receiptBytes), signature })
}

/** The proof with another signed receipt in it (and that receipt's ID, so only the checks that should fail do). */
function withReceipt (proof: ReceiptProof, signed: Uint8Array, id?: string): ReceiptProof {
  return { ...proof, signedReceipt: Buffer.from(signed).toString('base64'), receiptId: id ?? decodeSignedReceipt(signed).id }
}

function failed (result: ProofVerification): string[] {
  return Object.entries(result.checks).filter(([, c]) => c?.ok !== true).map(([name]) => name).sort()
}

function reason (result: ProofVerification, check: keyof ProofVerification['checks']): string {
  return result.checks[check]?.reason ?? ''
}

describe('receipt proofs', () => {
  let dir: { path: string, [Symbol.asyncDispose]: () => Promise<void> }
  let walrus: LocalWalrus
  let client: WalrusHttpClient
  let ledger: LocalLedger
  const ledgers: LocalLedger[] = []
  const node = Ed25519Keypair.generate()
  const stranger = Ed25519Keypair.generate()
  let batch: Array<Awaited<ReturnType<typeof issue>>>
  let receipts: Uint8Array[]
  let bundleBlobId: string
  let anchor: AnchorReceipt
  let proofs: ReceiptProof[]
  let deps: VerifyProofDeps

  async function put (bytes: Uint8Array): Promise<string> {
    const path = join(dir.path, `blob-${randomBytes(4).toString('hex')}`)
    await writeFile(path, bytes)
    return (await client.putFile(path)).blobId
  }

  async function openLedger (name: string, signer: Ed25519Keypair): Promise<LocalLedger> {
    const opened = await LocalLedger.open(join(dir.path, name), signer)
    ledgers.push(opened)
    return opened
  }

  before(async () => {
    dir = await tempDir('herd-proof-')
    walrus = await startLocalWalrus(join(dir.path, 'walrus'))
    client = new WalrusHttpClient({ publisher: walrus.url, aggregator: walrus.url, retries: 1, retryBaseDelayMs: 5, retryMaxDelayMs: 20 })
    ledger = await openLedger('ledger', node)
    // Five receipts: an odd count, so the last leaf is carried up a level.
    batch = []
    for (let i = 0; i < 5; i++) batch.push(await issue(node, i, BigInt(i + 1)))
    receipts = batch.map(b => b.info.bytes)
    bundleBlobId = await put(encodeBundle({ receipts, inputs: batch.map(b => b.inputs), outputs: batch.map(b => b.outputs) }))
    anchor = await ledger.anchor({ root: Buffer.from(receiptRoot(receipts)).toString('hex'), count: receipts.length, bundleBlobId: bundleBlobId as any })
    proofs = receipts.map((_, index) => buildProof({ signedReceipts: receipts, index, bundleBlobId, anchor }))
    deps = { ledger, walrus: client }
  })

  after(async () => {
    for (const l of ledgers) await l.close()
    await walrus?.stop()
    await dir?.[Symbol.asyncDispose]()
  })

  it('builds a proof of every receipt that verifies, re-execution included', async () => {
    for (const [index, proof] of proofs.entries()) {
      assert.equal(proof.version, 1)
      assert.equal(proof.receiptId, batch[index]!.info.id)
      assert.equal(proof.leafCount, 5)
      assert.equal(proof.index, index)
      assert.equal(proof.anchor.address, node.toSuiAddress())
      assert.equal(proof.anchor.txId, anchor.txId)
      // As the API serves it and the CLI reads it: through JSON.
      const read = parseProof(JSON.parse(JSON.stringify(proof)))
      assert.deepEqual(read, proof)
      const result = await verifyProof(read, { ...deps, reexecute: honest })
      assert.deepEqual(failed(result), [], JSON.stringify(result.checks))
      assert.equal(result.valid, true)
      assert.equal(result.checks.reexecution?.ok, true)
    }
    const without = await verifyProof(proofs[0]!, deps)
    assert.equal(without.valid, true)
    assert.equal(without.checks.reexecution, undefined)
  })

  it('catches a receipt whose outputs hash was changed and not re-signed', async () => {
    const { info } = batch[1]!
    const changed = Receipt.encode({ ...Receipt.decode(info.receiptBytes), outputsHash: new Uint8Array(randomBytes(32)) })
    const signed = SignedReceipt.encode({ receipt: changed, signature: new Uint8Array(info.signature) })
    const result = await verifyProof(withReceipt(proofs[1]!, signed), deps)
    assert.equal(result.valid, false)
    assert.deepEqual(failed(result), ['bundleHoldsReceipt', 'merklePath', 'signature'])
    assert.match(reason(result, 'signature'), /not the Ed25519 signature/)
    assert.match(reason(result, 'merklePath'), /leads to [0-9a-f]{64}, not to root/)
    assert.match(reason(result, 'bundleHoldsReceipt'), /does not hold this receipt/)
    // With the receipt ID left as it was, the format check fails too.
    const stale = await verifyProof(withReceipt(proofs[1]!, signed, proofs[1]!.receiptId), deps)
    assert.match(reason(stale, 'format'), /receiptId .* is not the ID of the receipt/)
  })

  it('catches a changed receipt re-signed by another key, whether it names the node key or its own', async () => {
    const { info } = batch[1]!
    const base = Receipt.decode(info.receiptBytes)
    // Names the node's key, signed by the stranger: the signature fails.
    const namesNode = await signRaw(Receipt.encode({ ...base, outputsHash: new Uint8Array(randomBytes(32)) }), stranger)
    let result = await verifyProof(withReceipt(proofs[1]!, namesNode), deps)
    assert.deepEqual(failed(result), ['bundleHoldsReceipt', 'merklePath', 'signature'])
    // Names the stranger's own key: a good signature, but not by the address that anchored the root.
    const own = await signRaw(Receipt.encode({ ...base, outputsHash: new Uint8Array(randomBytes(32)), nodePublicKey: stranger.getPublicKey().toRawBytes() }), stranger)
    result = await verifyProof(withReceipt(proofs[1]!, own), deps)
    assert.deepEqual(failed(result), ['anchoredBySigner', 'bundleHoldsReceipt', 'merklePath'])
    assert.match(reason(result, 'anchoredBySigner'), new RegExp(`anchored by ${node.toSuiAddress()}, not by ${stranger.toSuiAddress()}`))
  })

  it('catches a changed model ID', async () => {
    const { info } = batch[2]!
    const other = Receipt.encode({ ...Receipt.decode(info.receiptBytes), modelBlobId: new Uint8Array(blobIdToBytes(blobIdFromBytes(randomBytes(32)))) })
    const result = await verifyProof(withReceipt(proofs[2]!, SignedReceipt.encode({ receipt: other, signature: new Uint8Array(info.signature) })), deps)
    assert.deepEqual(failed(result), ['bundleHoldsReceipt', 'merklePath', 'signature'])
  })

  it('catches a signature taken from another receipt', async () => {
    const signed = SignedReceipt.encode({ receipt: new Uint8Array(batch[0]!.info.receiptBytes), signature: new Uint8Array(batch[3]!.info.signature) })
    const result = await verifyProof(withReceipt(proofs[0]!, signed), deps)
    assert.ok(failed(result).includes('signature'))
    assert.match(reason(result, 'signature'), /not the Ed25519 signature/)
  })

  it('catches a forged path: a sibling changed, a wrong index, a wrong leaf count, an extra sibling', async () => {
    const proof = proofs[2]!
    const siblings = [...proof.siblings]
    siblings[1] = randomBytes(32).toString('hex')
    let result = await verifyProof({ ...proof, siblings }, deps)
    assert.deepEqual(failed(result), ['merklePath'])
    assert.match(reason(result, 'merklePath'), /leads to .* not to root/)

    result = await verifyProof({ ...proof, index: 3 }, deps)
    assert.deepEqual(failed(result), ['bundleHoldsReceipt', 'merklePath'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /at index 2, not 3/)

    result = await verifyProof({ ...proof, leafCount: 4 }, deps)
    assert.deepEqual(failed(result), ['anchored', 'bundleHoldsReceipt', 'merklePath'])
    assert.match(reason(result, 'merklePath'), /does not fit a tree of 4 leaves/)
    // A path of the same shape in a tree of 6 leaves reaches the same root: the anchor's count is what pins it.
    result = await verifyProof({ ...proof, leafCount: 6 }, deps)
    assert.deepEqual(failed(result), ['anchored', 'bundleHoldsReceipt'])
    assert.match(reason(result, 'anchored'), /counts 5 receipts, the proof 6/)
    assert.match(reason(result, 'bundleHoldsReceipt'), /holds 5 receipts, the proof says 6/)

    result = await verifyProof({ ...proof, siblings: [...proof.siblings, randomBytes(32).toString('hex')] }, deps)
    assert.deepEqual(failed(result), ['merklePath'])
    assert.match(reason(result, 'merklePath'), /more siblings/)

    // The last of five leaves is carried up twice: its path has one sibling, not three.
    assert.equal(proofs[4]!.siblings.length, 1)
    result = await verifyProof({ ...proofs[4]!, siblings: [randomBytes(32).toString('hex'), ...proofs[4]!.siblings] }, deps)
    assert.deepEqual(failed(result), ['merklePath'])
  })

  it('catches a root anchored by another address', async () => {
    const other = await openLedger('ledger-other', stranger)
    await other.anchor({ root: proofs[0]!.root, count: 5, bundleBlobId: bundleBlobId as any })
    const result = await verifyProof(proofs[0]!, { ...deps, ledger: other })
    assert.deepEqual(failed(result), ['anchoredBySigner'])
    assert.match(reason(result, 'anchoredBySigner'), new RegExp(`anchored by ${stranger.toSuiAddress()}`))
  })

  it('catches a root that is not anchored, an anchor of another bundle or count, and a ledger that fails', async () => {
    const empty = await openLedger('ledger-empty', node)
    let result = await verifyProof(proofs[0]!, { ...deps, ledger: empty })
    assert.deepEqual(failed(result), ['anchored', 'anchoredBySigner'])
    assert.match(reason(result, 'anchored'), /NotFoundError: root [0-9a-f]{64} is not anchored/)
    assert.match(reason(result, 'anchoredBySigner'), /^skipped: /)

    const entry = await ledger.getAnchor(proofs[0]!.root)
    const lying = (changes: Partial<AnchorEntry>): Pick<Ledger, 'getAnchor'> => ({ getAnchor: async () => ({ ...entry, ...changes }) })
    result = await verifyProof(proofs[0]!, { ...deps, ledger: lying({ bundleBlobId: blobIdFromBytes(randomBytes(32)) }) })
    assert.deepEqual(failed(result), ['anchored'])
    assert.match(reason(result, 'anchored'), /names bundle/)

    result = await verifyProof(proofs[0]!, { ...deps, ledger: { getAnchor: async () => { throw new Error('connection refused') } } })
    assert.deepEqual(failed(result), ['anchored', 'anchoredBySigner'])
    assert.match(reason(result, 'anchored'), /connection refused/)
  })

  it('catches an anchored bundle that does not hold the receipt, a blob that is no bundle, and one Walrus does not have', async () => {
    // The node anchors the batch's root, but names a bundle of other receipts.
    const others = [await issue(node, 10, 10n), await issue(node, 11, 11n)]
    const wrongBundle = await put(encodeBundle({ receipts: others.map(o => o.info.bytes), inputs: [new Uint8Array(0), new Uint8Array(0)], outputs: [new Uint8Array(0), new Uint8Array(0)] }))
    const second = await openLedger('ledger-wrong-bundle', node)
    const wrongAnchor = await second.anchor({ root: proofs[0]!.root, count: 5, bundleBlobId: wrongBundle as any })
    const proof = { ...proofs[0]!, bundleBlobId: wrongBundle, anchor: wrongAnchor }
    let result = await verifyProof(proof, { ...deps, ledger: second, reexecute: honest })
    assert.deepEqual(failed(result), ['bundleHoldsReceipt', 'reexecution'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /holds 2 receipts, the proof says 5/)
    assert.match(reason(result, 'reexecution'), /^skipped: /)

    // Same count, other receipts.
    const five = [...receipts.slice(0, 4), others[0]!.info.bytes]
    const sameCount = await put(encodeBundle({ receipts: five, inputs: five.map(() => new Uint8Array(0)), outputs: five.map(() => new Uint8Array(0)) }))
    result = await verifyProof({ ...proofs[4]!, bundleBlobId: sameCount }, { ...deps, ledger: lyingBundle(sameCount) })
    assert.deepEqual(failed(result), ['bundleHoldsReceipt'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /does not hold this receipt/)
    // It holds receipt 0 where it should, but its receipts give another root.
    result = await verifyProof({ ...proofs[0]!, bundleBlobId: sameCount }, { ...deps, ledger: lyingBundle(sameCount) })
    assert.deepEqual(failed(result), ['bundleHoldsReceipt'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /give root [0-9a-f]{64}, not/)

    const junk = await put(randomBytes(3000))
    result = await verifyProof({ ...proofs[0]!, bundleBlobId: junk }, { ...deps, ledger: lyingBundle(junk) })
    assert.deepEqual(failed(result), ['bundleHoldsReceipt'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /is not a bundle/)

    const missing = blobIdFromBytes(randomBytes(32))
    result = await verifyProof({ ...proofs[0]!, bundleBlobId: missing }, { ...deps, ledger: lyingBundle(missing) })
    assert.deepEqual(failed(result), ['bundleHoldsReceipt'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /cannot read bundle .* from Walrus/)

    function lyingBundle (blobId: string): Pick<Ledger, 'getAnchor'> {
      return { getAnchor: async root => ({ ...(await ledger.getAnchor(root)), bundleBlobId: blobId as any }) }
    }
  })

  it('catches a receipt that is not canonically encoded, and skips the checks that need it', async () => {
    const { info } = batch[0]!
    // Fields reordered: the same values, validly signed, but not the canonical bytes.
    const reordered = Buffer.concat([info.receiptBytes.subarray(2), info.receiptBytes.subarray(0, 2)])
    const signed = await signRaw(reordered, node)
    const result = await verifyProof({ ...proofs[0]!, signedReceipt: Buffer.from(signed).toString('base64') }, { ...deps, reexecute: honest })
    assert.equal(result.valid, false)
    assert.match(reason(result, 'format'), /ProofFormatError: the receipt is not canonically encoded/)
    for (const check of ['signature', 'merklePath', 'anchored', 'anchoredBySigner', 'bundleHoldsReceipt', 'reexecution'] as const) {
      assert.match(reason(result, check), /^skipped: the proof is malformed/, check)
    }
  })

  it('never throws for a malformed proof', async () => {
    for (const bad of [
      {}, null, 'proof', { ...proofs[0]!, version: 2 }, { ...proofs[0]!, extra: 1 }, { ...proofs[0]!, root: 'AB' },
      { ...proofs[0]!, index: 5 }, { ...proofs[0]!, signedReceipt: 'not base64!' }, { ...proofs[0]!, bundleBlobId: 'x' },
      { ...proofs[0]!, anchor: { ...proofs[0]!.anchor, address: 'me' } }, { ...proofs[0]!, signedReceipt: Buffer.from('garbage').toString('base64') }
    ]) {
      const result = await verifyProof(bad as any, deps)
      assert.equal(result.valid, false)
      assert.equal(result.checks.format.ok, false)
      assert.ok((result.checks.format.reason ?? '').length > 0)
      assert.match(reason(result, 'signature'), /^skipped/)
    }
  })

  it('parses proofs strictly, naming the problem', () => {
    const good = proofs[0]!
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, version: 2 }, /version/],
      [{ ...good, extra: true }, /extra/],
      [{ ...good, receiptId: good.receiptId.toUpperCase() }, /receiptId/],
      [{ ...good, index: 5 }, /index/],
      [{ ...good, index: -1 }, /index/],
      [{ ...good, leafCount: 0 }, /leafCount/],
      [{ ...good, siblings: ['zz'] }, /siblings/],
      [{ ...good, siblings: Array.from({ length: 17 }, () => good.root) }, /siblings/],
      [{ ...good, signedReceipt: 'a'.repeat(5) }, /signedReceipt/],
      [{ ...good, bundleBlobId: 'short' }, /bundleBlobId/],
      [{ ...good, anchor: { ...good.anchor, height: -1 } }, /height/],
      [{ ...good, anchor: { ...good.anchor, extra: 1 } }, /extra/],
      [{ ...good, anchor: undefined }, /anchor/]
    ]
    for (const [value, message] of cases) {
      assert.throws(() => parseProof(value), (err: Error) => err.name === 'ProofFormatError' && message.test(err.message), message.source)
    }
    assert.throws(() => buildProof({ signedReceipts: receipts, index: 5, bundleBlobId, anchor }), { name: 'ProofFormatError' })
  })

  it('re-executes: other outputs fail, the matching ones pass, a failing re-executor is a failed check', async () => {
    const proof = proofs[3]!
    let result = await verifyProof(proof, { ...deps, reexecute: async () => canonicalTensors(run(99).outputs) })
    assert.deepEqual(failed(result), ['reexecution'])
    assert.match(reason(result, 'reexecution'), /gives outputs hashing to [0-9a-f]{64}; the receipt says/)

    result = await verifyProof(proof, { ...deps, reexecute: honest })
    assert.equal(result.checks.reexecution?.ok, true)

    result = await verifyProof(proof, { ...deps, reexecute: async () => { throw new Error('session failed') } })
    assert.deepEqual(failed(result), ['reexecution'])
    assert.match(reason(result, 'reexecution'), /re-execution failed: Error: session failed/)
  })

  it('re-executes: the bundle\'s inputs must match the receipt, its stored outputs the run, and a bundle without tensors says so', async () => {
    const issued = [await issue(node, 20, 20n), await issue(node, 21, 21n), await issue(node, 22, 22n)]
    const signed = issued.map(r => r.info.bytes)
    const root = Buffer.from(receiptRoot(signed)).toString('hex')
    const variants = [
      { name: 'no tensors', inputs: issued.map(() => new Uint8Array(0)), outputs: issued.map(() => new Uint8Array(0)), expect: /leaves this receipt's tensors out/ },
      { name: 'other inputs', inputs: issued.map(r => r.inputs).reverse(), outputs: issued.map(r => r.outputs), expect: /inputs for this receipt hash to [0-9a-f]{64}; the receipt says/ },
      { name: 'other stored outputs', inputs: issued.map(r => r.inputs), outputs: issued.map(r => r.outputs).reverse(), expect: /bundle stores other outputs/ },
      { name: 'inputs only', inputs: issued.map(r => r.inputs), outputs: issued.map(() => new Uint8Array(0)), expect: undefined }
    ]
    for (const [n, variant] of variants.entries()) {
      const blobId = await put(encodeBundle({ receipts: signed, inputs: variant.inputs, outputs: variant.outputs }))
      const own = await openLedger(`ledger-reexec-${n}`, node)
      const receipt = await own.anchor({ root, count: 3, bundleBlobId: blobId as any })
      const proof = buildProof({ signedReceipts: signed, index: 0, bundleBlobId: blobId, anchor: receipt })
      const result = await verifyProof(proof, { ledger: own, walrus: client, reexecute: honest })
      if (variant.expect == null) {
        assert.equal(result.valid, true, variant.name)
      } else {
        assert.deepEqual(failed(result), ['reexecution'], variant.name)
        assert.match(reason(result, 'reexecution'), variant.expect, variant.name)
      }
    }
  })

  it('reads a bundle\'s receipts alone unless it re-executes, and the whole bundle where those bytes will not do', async () => {
    let ranges = 0
    let rangeBytes = 0
    let wholes = 0
    let ignoreRanges = false
    const walrus: VerifyProofDeps['walrus'] = {
      readRange: async (blobId, range, options) => {
        ranges++
        if (ignoreRanges) throw new WalrusProtocolError('aggregator ignored the Range header')
        const bytes = await client.readRange(blobId, range, options)
        rangeBytes += bytes.byteLength
        return bytes
      },
      getToFile: async (blobId, path, options) => { wholes++; return client.getToFile(blobId, path, options) }
    }
    const reads = (): [number, number] => { const counted: [number, number] = [ranges, wholes]; ranges = 0; wholes = 0; return counted }
    const anchoredWith = (blobId: string): Pick<Ledger, 'getAnchor'> => ({ getAnchor: async root => ({ ...(await ledger.getAnchor(root)), bundleBlobId: blobId as any }) })

    // Tensors two thousand times the receipts' bytes: the receipts section is all that is read.
    const bulky = encodeBundle({ receipts, inputs: receipts.map(() => randomBytes(200_000)), outputs: receipts.map(() => randomBytes(100_000)) })
    const bulkyId = await put(bulky)
    let result = await verifyProof({ ...proofs[3]!, bundleBlobId: bulkyId }, { ledger: anchoredWith(bulkyId), walrus })
    assert.deepEqual(failed(result), [])
    assert.deepEqual(reads(), [1, 0])
    assert.ok(rangeBytes <= receiptsSectionBound(receipts.length) && rangeBytes * 500 < bulky.byteLength, `${rangeBytes} of ${bulky.byteLength} bytes read`)

    // Re-execution needs the tensors: the bundle is read whole, and only so.
    result = await verifyProof(proofs[1]!, { ...deps, walrus, reexecute: honest })
    assert.deepEqual(failed(result), [])
    assert.deepEqual(reads(), [0, 1])

    // An aggregator that will not serve a range: the whole bundle decides.
    ignoreRanges = true
    result = await verifyProof(proofs[0]!, { ...deps, walrus })
    assert.deepEqual(failed(result), [])
    assert.deepEqual(reads(), [1, 1])
    ignoreRanges = false

    // Valid protobuf in another field order (an inputs entry among the receipts): read whole, it holds the same receipts.
    const empty = receipts.map(() => new Uint8Array(0))
    const interleaved = await put(Buffer.concat([
      Bundle.encode({ version: BUNDLE_VERSION, receipts: receipts.slice(0, 2).map(r => new Uint8Array(r)), inputs: [new Uint8Array(0)], outputs: [] }),
      Bundle.encode({ version: 0, receipts: receipts.slice(2).map(r => new Uint8Array(r)), inputs: empty.slice(1), outputs: empty })
    ]))
    result = await verifyProof({ ...proofs[4]!, bundleBlobId: interleaved }, { ledger: anchoredWith(interleaved), walrus })
    assert.deepEqual(failed(result), [])
    assert.deepEqual(reads(), [1, 1])

    // One receipt more than the anchor counts, the proof's among the first: read whole, and refused.
    const extra = (await issue(node, 30, 30n)).info.bytes
    const longer = await put(encodeBundle({ receipts: [...receipts, extra], inputs: [...empty, new Uint8Array(0)], outputs: [...empty, new Uint8Array(0)] }))
    result = await verifyProof({ ...proofs[0]!, bundleBlobId: longer }, { ledger: anchoredWith(longer), walrus })
    assert.deepEqual(failed(result), ['bundleHoldsReceipt'])
    assert.match(reason(result, 'bundleHoldsReceipt'), /holds 6 receipts, the proof says 5/)
    assert.deepEqual(reads(), [1, 1])
  })

  it('throws only when the caller cancels', async () => {
    const controller = new AbortController()
    controller.abort(new Error('cancelled'))
    await assert.rejects(verifyProof(proofs[0]!, { ...deps, signal: controller.signal }), /cancelled/)
  })
})
