import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sameBytes } from '../blob/cache/file-io.js'
import { hashFromHex, toHex } from '../blob/chunk-tree.js'
import type { AnchorEntry, Ledger } from '../chain/types.js'
import type { WalrusStore } from '../walrus/types.js'
import { decodeBundle, MAX_BUNDLE_BYTES, receiptRoot, receiptsFromPrefix, receiptsSectionBound, rootOfPath, type BundleContents } from './bundle.js'
import { parseProof, type ReceiptProof } from './proof.js'
import { decodeSignedReceipt, receiptSigner, verifyReceiptSignature, type SignedReceiptInfo } from './receipt.js'
import { hashTensorSet } from './tensor-hash.js'

export interface ProofCheck {
  ok: boolean
  /** Why the check failed, or `skipped: …` when an earlier failure kept it from running. */
  reason?: string
}

export interface ProofVerification {
  /** Every check passed. */
  valid: boolean
  checks: {
    /** The proof is well formed, its receipt canonically encoded, its receiptId that receipt's. */
    format: ProofCheck
    /** The receipt is signed by the key it names. */
    signature: ProofCheck
    /** The receipt's Merkle path leads to `root`. */
    merklePath: ProofCheck
    /** The ledger holds an anchor of `root` with this leaf count and bundle. */
    anchored: ProofCheck
    /** That anchor was made by the address of the key that signed the receipt. */
    anchoredBySigner: ProofCheck
    /** The bundle on Walrus holds this receipt at `index`, and its receipts give `root`. */
    bundleHoldsReceipt: ProofCheck
    /** Only when asked: re-running the model on the bundle's inputs gives the receipt's outputs. */
    reexecution?: ProofCheck
  }
}

export interface VerifyProofDeps {
  ledger: Pick<Ledger, 'getAnchor'>
  walrus: Pick<WalrusStore, 'readRange' | 'getToFile' | 'lifetime'>
  /** Runs the model on canonical inputs (TensorSet bytes) and returns the canonical outputs. */
  reexecute?: (args: { modelBlobId: string, inputs: Uint8Array, signal?: AbortSignal }) => Promise<Uint8Array>
  /**
   * The run's inputs (canonical TensorSet bytes) from whoever holds them, such
   * as the client that made the request: re-execution uses them when the
   * bundle left the receipt's tensors out. They must hash to the receipt's inputsHash.
   */
  inputs?: Uint8Array
  signal?: AbortSignal
}

const OK: ProofCheck = { ok: true }
const EMPTY_SET_HASH = hashTensorSet(new Uint8Array(0))

function fail (reason: string): ProofCheck {
  return { ok: false, reason }
}

function skipped (why: string): ProofCheck {
  return { ok: false, reason: `skipped: ${why}` }
}

function message (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * Checks a receipt proof against the ledger and Walrus, as anyone can: the
 * receipt, its signature, its Merkle path, the anchor of the root and who made
 * it, the bundle behind the anchor and, with `reexecute`, the run itself.
 * A bad proof, or a ledger or Walrus error, is a failed check that says why;
 * only a cancelled `signal` throws.
 */
export async function verifyProof (proof: ReceiptProof, deps: VerifyProofDeps): Promise<ProofVerification> {
  const { signal } = deps
  signal?.throwIfAborted()

  let parsed: ReceiptProof | undefined
  let info: SignedReceiptInfo | undefined
  let format: ProofCheck
  try {
    parsed = parseProof(proof)
    info = decodeSignedReceipt(new Uint8Array(Buffer.from(parsed.signedReceipt, 'base64')))
    format = info.id === parsed.receiptId
      ? OK
      : fail(`receiptId ${parsed.receiptId} is not the ID of the receipt the proof carries (${info.id})`)
  } catch (err) {
    format = fail(message(err))
  }

  if (parsed == null || info == null) {
    const why = skipped('the proof is malformed')
    return result({ format, signature: why, merklePath: why, anchored: why, anchoredBySigner: why, bundleHoldsReceipt: why, ...(deps.reexecute != null ? { reexecution: why } : {}) })
  }
  const p = parsed
  const receipt = info

  const anchorFetch = fetchAnchor(p, deps)
  const [signature, merklePath, anchor, bundle] = await Promise.all([
    checkSignature(receipt),
    Promise.resolve(checkPath(p, receipt)),
    anchorFetch,
    fetchBundle(p, deps, anchorFetch)
  ])

  const anchored = anchor.entry == null ? anchor.check : checkAnchor(p, anchor.entry)
  const anchoredBySigner = anchor.entry == null ? skipped('no anchor of the root was found') : checkSignerAnchored(receipt, anchor.entry)
  const bundleHoldsReceipt = bundle.receipts == null ? bundle.check : checkBundle(p, receipt, bundle.receipts)

  const checks: ProofVerification['checks'] = { format, signature, merklePath, anchored, anchoredBySigner, bundleHoldsReceipt }
  if (deps.reexecute != null) {
    checks.reexecution = bundle.contents == null || !bundleHoldsReceipt.ok
      ? skipped('the bundle does not hold this receipt')
      : await checkReexecution(p, receipt, bundle.contents, deps.reexecute, deps.inputs, signal)
  }
  return result(checks)
}

function result (checks: ProofVerification['checks']): ProofVerification {
  return { valid: Object.values(checks).every(c => c?.ok === true), checks }
}

async function checkSignature (info: SignedReceiptInfo): Promise<ProofCheck> {
  return await verifyReceiptSignature(info)
    ? OK
    : fail('the signature is not the Ed25519 signature of this receipt by the key it names')
}

function checkPath (proof: ReceiptProof, info: SignedReceiptInfo): ProofCheck {
  let reached: Uint8Array
  try {
    reached = rootOfPath(info.bytes, { index: proof.index, leafCount: proof.leafCount, siblings: proof.siblings.map(hashFromHex) })
  } catch (err) {
    return fail(`the path does not fit a tree of ${proof.leafCount} leaves at index ${proof.index}: ${(err as Error).message}`)
  }
  const hex = toHex(reached)
  return hex === proof.root ? OK : fail(`the path from the receipt at index ${proof.index} of ${proof.leafCount} leads to ${hex}, not to root ${proof.root}`)
}

async function fetchAnchor (proof: ReceiptProof, deps: VerifyProofDeps): Promise<{ entry?: AnchorEntry, check: ProofCheck }> {
  try {
    const entry = await deps.ledger.getAnchor(proof.root, deps.signal != null ? { signal: deps.signal } : undefined)
    return { entry, check: OK }
  } catch (err) {
    deps.signal?.throwIfAborted()
    return { check: fail(`no anchor of root ${proof.root} on the ledger: ${message(err)}`) }
  }
}

function checkAnchor (proof: ReceiptProof, entry: AnchorEntry): ProofCheck {
  const problems: string[] = []
  if (entry.root !== proof.root) problems.push(`the ledger answered with root ${entry.root}`)
  if (entry.count !== proof.leafCount) problems.push(`the anchor counts ${entry.count} receipts, the proof ${proof.leafCount}`)
  if (entry.bundleBlobId !== proof.bundleBlobId) problems.push(`the anchor names bundle ${entry.bundleBlobId}, the proof ${proof.bundleBlobId}`)
  return problems.length === 0 ? OK : fail(problems.join('; '))
}

function checkSignerAnchored (info: SignedReceiptInfo, entry: AnchorEntry): ProofCheck {
  const signer = receiptSigner(info)
  return entry.address.toLowerCase() === signer
    ? OK
    : fail(`the root was anchored by ${entry.address}, not by ${signer}, the address of the key that signed the receipt`)
}

interface FetchedBundle {
  /** The bundle's receipts, once read. */
  receipts?: Uint8Array[]
  /** The whole bundle, when it was read whole: for re-execution, or a blob only a whole decode can judge. */
  contents?: BundleContents
  check: ProofCheck
}

/**
 * The bundle behind the proof. Without re-execution only its receipts are
 * needed, and herd writes them first: those bytes are read alone (about
 * 0.3 KB a receipt, where a bundle with tensors holds MiBs). Any other
 * layout, or a range an aggregator will not serve, is read whole.
 */
async function fetchBundle (proof: ReceiptProof, deps: VerifyProofDeps, anchor: Promise<{ entry?: AnchorEntry }>): Promise<FetchedBundle> {
  if (deps.reexecute == null) {
    const receipts = await readReceiptsSection(proof, deps)
    if (receipts != null) return { receipts, check: OK }
  }
  const whole = await fetchWholeBundle(proof, deps, anchor)
  return whole.contents == null ? whole : { ...whole, receipts: whole.contents.receipts }
}

async function readReceiptsSection (proof: ReceiptProof, deps: VerifyProofDeps): Promise<Uint8Array[] | undefined> {
  let prefix: Uint8Array
  try {
    prefix = await deps.walrus.readRange(proof.bundleBlobId, { start: 0, end: receiptsSectionBound(proof.leafCount) - 1 }, deps.signal != null ? { signal: deps.signal } : {})
  } catch {
    // The whole read says why, and whether the blob expired.
    deps.signal?.throwIfAborted()
    return undefined
  }
  return receiptsFromPrefix(prefix, proof.leafCount)
}

async function fetchWholeBundle (proof: ReceiptProof, deps: VerifyProofDeps, anchor: Promise<{ entry?: AnchorEntry }>): Promise<FetchedBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'herd-proof-'))
  const tooLarge = new AbortController()
  let announced = 0
  try {
    const path = join(dir, 'bundle')
    const signal = deps.signal != null ? AbortSignal.any([deps.signal, tooLarge.signal]) : tooLarge.signal
    try {
      await deps.walrus.getToFile(proof.bundleBlobId, path, {
        signal,
        onProgress: ({ total }) => {
          if (total > MAX_BUNDLE_BYTES && !tooLarge.signal.aborted) {
            announced = total
            tooLarge.abort()
          }
        }
      })
    } catch (err) {
      deps.signal?.throwIfAborted()
      if (tooLarge.signal.aborted) return { check: fail(`bundle ${proof.bundleBlobId} is ${announced} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit of a bundle`) }
      if ((err as Error).name === 'BlobNotFoundError') {
        // An aggregator answers an expired blob as an unknown one; where Walrus says when the blob ended, say that.
        // On Sui the anchor is written on the bundle's Blob object, which outlives the blob and tells its end epoch.
        const { entry } = await anchor
        const objectId = entry?.bundleBlobId === proof.bundleBlobId ? entry.bundleObjectId : undefined
        const life = await deps.walrus.lifetime?.(proof.bundleBlobId, { ...(deps.signal != null ? { signal: deps.signal } : {}), ...(objectId != null ? { objectId } : {}) }).catch(() => undefined)
        if (life?.expired === true) return { check: fail(`bundle expired at epoch ${life.endEpoch}`) }
      }
      return { check: fail(`cannot read bundle ${proof.bundleBlobId} from Walrus: ${message(err)}`) }
    }
    const bytes = await readFile(path)
    try {
      return { contents: decodeBundle(bytes), check: OK }
    } catch (err) {
      return { check: fail(`blob ${proof.bundleBlobId} is not a bundle: ${message(err)}`) }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function checkBundle (proof: ReceiptProof, info: SignedReceiptInfo, receipts: Uint8Array[]): ProofCheck {
  const n = receipts.length
  if (n !== proof.leafCount) return fail(`the bundle holds ${n} receipts, the proof says ${proof.leafCount}`)
  const atIndex = receipts[proof.index]
  if (atIndex == null || !sameBytes(atIndex, info.bytes)) {
    const elsewhere = receipts.findIndex(r => sameBytes(r, info.bytes))
    return fail(elsewhere >= 0
      ? `the bundle holds this receipt at index ${elsewhere}, not ${proof.index}`
      : `the bundle does not hold this receipt (index ${proof.index} is another)`)
  }
  const root = toHex(receiptRoot(receipts))
  return root === proof.root ? OK : fail(`the bundle's receipts give root ${root}, not ${proof.root}`)
}

async function checkReexecution (proof: ReceiptProof, info: SignedReceiptInfo, bundle: BundleContents, reexecute: NonNullable<VerifyProofDeps['reexecute']>, given: Uint8Array | undefined, signal?: AbortSignal): Promise<ProofCheck> {
  const { inputsHash, outputsHash, modelBlobId } = info.receipt
  let inputs = bundle.inputs[proof.index] as Uint8Array
  let source = 'the bundle\'s inputs for this receipt'
  const stored = bundle.outputs[proof.index] as Uint8Array
  // An empty entry means the tensors were left out, unless the run really had none (the hash of the empty set).
  if (inputs.byteLength === 0 && !sameBytes(inputsHash, EMPTY_SET_HASH)) {
    if (given == null) {
      return fail('the bundle leaves this receipt\'s tensors out (too large for a bundle, or its node keeps none), so the run can be re-executed only with its inputs given (herd proof verify --inputs FILE)')
    }
    inputs = given
    source = 'the inputs given'
  }
  const inputsHex = toHex(hashTensorSet(inputs))
  if (inputsHex !== toHex(inputsHash)) return fail(`${source} hash to ${inputsHex}; the receipt says ${toHex(inputsHash)}`)
  let outputs: Uint8Array
  try {
    outputs = await reexecute({ modelBlobId, inputs, ...(signal != null ? { signal } : {}) })
  } catch (err) {
    signal?.throwIfAborted()
    return fail(`re-execution failed: ${message(err)}`)
  }
  const outputsHex = toHex(hashTensorSet(outputs))
  if (outputsHex !== toHex(outputsHash)) return fail(`re-running model ${modelBlobId} gives outputs hashing to ${outputsHex}; the receipt says ${toHex(outputsHash)}`)
  const storedPresent = stored.byteLength > 0 || sameBytes(outputsHash, EMPTY_SET_HASH)
  if (storedPresent && !sameBytes(stored, outputs)) return fail('re-running gives the receipt\'s outputs, but the bundle stores other outputs for this receipt')
  return OK
}
