import onnxProto from 'onnx-proto'
import { encodeUint8Array, encodingLength } from 'uint8-varint'
import { seededRandom } from '../src/seeded-random.js'

/**
 * Synthetic ONNX models: seeded multilayer perceptrons of any size, for tests, benchmarks and the
 * simulation. Every model loads and runs in onnxruntime; the same options give the same bytes.
 *
 * The model is written straight into its output buffer: the structure (model, graph, nodes, the
 * tensors' headers) is encoded with onnx-proto, and each weight's `raw_data` is generated in place,
 * so a 1 GiB model needs 1 GiB plus a few KiB.
 */

const { onnx } = onnxProto

export interface SyntheticMlpOptions {
  /** Features of the input "x" (shape ["batch", inputSize]). */
  inputSize: number
  /** Width of the hidden layers; ignored when targetBytes is given (chosen to hit it). */
  hiddenSize?: number
  /** Features of the output "y" (shape ["batch", outputSize]). */
  outputSize: number
  /** Linear layers (MatMul + Add), each but the last followed by Relu; at least 1, or 2 with targetBytes. */
  layers: number
  /** Seeds the weights' PRNG. */
  seed: number
  /** Size of the encoded model: the hidden width is chosen to come closest below, and the model's doc_string pads it to exactly this. */
  targetBytes?: number
}

export const SYNTHETIC_OPSET = 13
export const SYNTHETIC_IR_VERSION = 8
const PRODUCER = 'herd-synthetic'
const FLOAT = 1 // onnx.TensorProto.DataType.FLOAT

// field keys (field number << 3 | wire type 2)
const MODEL_DOC_STRING = (6 << 3) | 2
const MODEL_GRAPH = (7 << 3) | 2
const GRAPH_INITIALIZER = (5 << 3) | 2
const TENSOR_RAW_DATA = (9 << 3) | 2

/** protobuf's limit on one message, so onnxruntime's on a model without external data. */
export const MAX_SYNTHETIC_BYTES = 2 ** 31 - 1

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

interface Initializer {
  header: Uint8Array
  dataBytes: number
  fanIn: number
  scale: number
}

interface Layout {
  modelHead: Uint8Array
  graphBody: Uint8Array
  initializers: Initializer[]
  graphBytes: number
  /** Bytes without padding. */
  bytes: number
}

/** Writes `n` as a varint at `pos`; returns the position after it. */
function writeVarint (out: Uint8Array, pos: number, n: number): number {
  encodeUint8Array(n, out, pos)
  return pos + encodingLength(n)
}

function checkInteger (what: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer of at least ${min}, got ${String(value)}`)
  }
  return value
}

function valueInfo (name: string, size: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: size }] } } }
  }
}

/** Everything but the weights' bytes, for a given hidden width. */
function layout (options: SyntheticMlpOptions, hiddenSize: number): Layout {
  const { inputSize, outputSize, layers } = options
  const nodes: onnxProto.onnx.INodeProto[] = []
  const initializers: Initializer[] = []
  let previous = 'x'
  for (let i = 0; i < layers; i++) {
    const fanIn = i === 0 ? inputSize : hiddenSize
    const fanOut = i === layers - 1 ? outputSize : hiddenSize
    const last = i === layers - 1
    const sum = last ? 'y' : `add${i}`
    nodes.push({ opType: 'MatMul', name: `matmul${i}`, input: [previous, `W${i}`], output: [`mm${i}`] })
    nodes.push({ opType: 'Add', name: `add${i}`, input: [`mm${i}`, `B${i}`], output: [sum] })
    if (!last) nodes.push({ opType: 'Relu', name: `relu${i}`, input: [sum], output: [`h${i}`] })
    previous = `h${i}`
    initializers.push({
      header: onnx.TensorProto.encode({ dims: [fanIn, fanOut], dataType: FLOAT, name: `W${i}` }).finish(),
      dataBytes: 4 * fanIn * fanOut,
      fanIn,
      scale: 1 / Math.sqrt(fanIn)
    }, {
      header: onnx.TensorProto.encode({ dims: [fanOut], dataType: FLOAT, name: `B${i}` }).finish(),
      dataBytes: 4 * fanOut,
      fanIn,
      scale: 0.1
    })
  }
  const modelHead = onnx.ModelProto.encode({
    irVersion: SYNTHETIC_IR_VERSION,
    opsetImport: [{ domain: '', version: SYNTHETIC_OPSET }],
    producerName: PRODUCER,
    producerVersion: '1'
  }).finish()
  const graphBody = onnx.GraphProto.encode({
    name: 'synthetic_mlp',
    node: nodes,
    input: [valueInfo('x', inputSize)],
    output: [valueInfo('y', outputSize)]
  }).finish()
  let graphBytes = graphBody.length
  for (const init of initializers) graphBytes += initializerBytes(init)
  const bytes = modelHead.length + 1 + encodingLength(graphBytes) + graphBytes
  return { modelHead, graphBody, initializers, graphBytes, bytes }
}

function tensorBytes (init: Initializer): number {
  return init.header.length + 1 + encodingLength(init.dataBytes) + init.dataBytes
}

function initializerBytes (init: Initializer): number {
  const inner = tensorBytes(init)
  return 1 + encodingLength(inner) + inner
}

/** The doc_string length that pads a model by exactly `pad` bytes, if there is one. */
function paddingLength (pad: number): number | undefined {
  if (pad === 0) return undefined
  for (let lengthBytes = 1; lengthBytes <= 6; lengthBytes++) {
    const k = pad - 1 - lengthBytes
    if (k >= 0 && encodingLength(k) === lengthBytes) return k
  }
  return undefined
}

/** The widest hidden layer whose model fits `target` bytes, with a padding that makes it exact. */
function planForTarget (options: SyntheticMlpOptions, target: number): { layout: Layout, pad: number } {
  const smallest = layout(options, 1)
  if (smallest.bytes > target) throw new RangeError(`targetBytes ${target} is below the smallest model of this shape (${smallest.bytes} bytes)`)
  let low = 1
  let high = 2
  while (layout(options, high).bytes <= target) high *= 2
  while (high - low > 1) { // layout(low) fits, layout(high) does not
    const middle = Math.floor((low + high) / 2)
    if (layout(options, middle).bytes <= target) low = middle
    else high = middle
  }
  for (let h = low; h >= 1; h--) {
    const plan = layout(options, h)
    const pad = target - plan.bytes
    if (pad === 0 || paddingLength(pad) !== undefined) return { layout: plan, pad }
  }
  throw new RangeError(`targetBytes ${target} cannot be reached with this shape`)
}

/** The weights' generator, seeded from both halves of a safe integer. */
function prng (seed: number): () => number {
  return seededRandom(Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.floor(seed / 2 ** 32))
}

const SCRATCH_FLOATS = 16384

/** Writes `bytes / 4` uniform floats in [-scale, scale) at `pos`, little-endian. */
function writeWeights (out: Uint8Array, pos: number, bytes: number, scale: number, random: () => number): void {
  const scratch = new Float32Array(SCRATCH_FLOATS)
  const scratchBytes = new Uint8Array(scratch.buffer)
  const view = LITTLE_ENDIAN ? undefined : new DataView(out.buffer, out.byteOffset, out.byteLength)
  for (let done = 0; done < bytes; done += SCRATCH_FLOATS * 4) {
    const n = Math.min(SCRATCH_FLOATS, (bytes - done) / 4)
    for (let i = 0; i < n; i++) scratch[i] = (random() * 2 - 1) * scale
    if (view == null) out.set(scratchBytes.subarray(0, n * 4), pos + done)
    else for (let i = 0; i < n; i++) view.setFloat32(pos + done + i * 4, scratch[i] as number, true)
  }
}

/**
 * An MLP: input "x" float32 ["batch", inputSize], output "y" float32 ["batch", outputSize], each
 * layer MatMul + Add, all but the last followed by Relu; weights uniform in ±1/sqrt(fan-in), biases
 * in ±0.1, from a PRNG seeded by `seed`. ONNX IR 8, opset 13. The same options give the same bytes.
 */
export function syntheticMlp (options: SyntheticMlpOptions): Uint8Array {
  checkInteger('inputSize', options.inputSize, 1)
  checkInteger('outputSize', options.outputSize, 1)
  checkInteger('layers', options.layers, 1)
  checkInteger('seed', options.seed, Number.MIN_SAFE_INTEGER)
  let plan: { layout: Layout, pad: number }
  if (options.targetBytes !== undefined) {
    checkInteger('targetBytes', options.targetBytes, 1)
    if (options.layers < 2) throw new RangeError('targetBytes needs layers >= 2: a single layer has no hidden width to size')
    plan = planForTarget(options, options.targetBytes)
  } else {
    const hidden = options.layers === 1 ? 1 : checkInteger('hiddenSize', options.hiddenSize, 1)
    plan = { layout: layout(options, hidden), pad: 0 }
  }
  const { layout: l, pad } = plan
  if (l.bytes + pad > MAX_SYNTHETIC_BYTES) throw new RangeError(`a model of ${l.bytes + pad} bytes is over protobuf's 2 GiB limit`)
  const out = new Uint8Array(l.bytes + pad)
  let pos = 0
  out.set(l.modelHead, pos)
  pos += l.modelHead.length
  out[pos++] = MODEL_GRAPH
  pos = writeVarint(out, pos, l.graphBytes)
  out.set(l.graphBody, pos)
  pos += l.graphBody.length
  const random = prng(options.seed)
  for (const init of l.initializers) {
    out[pos++] = GRAPH_INITIALIZER
    pos = writeVarint(out, pos, tensorBytes(init))
    out.set(init.header, pos)
    pos += init.header.length
    out[pos++] = TENSOR_RAW_DATA
    pos = writeVarint(out, pos, init.dataBytes)
    writeWeights(out, pos, init.dataBytes, init.scale, random)
    pos += init.dataBytes
  }
  if (pad > 0) {
    const k = paddingLength(pad) as number
    out[pos++] = MODEL_DOC_STRING
    pos = writeVarint(out, pos, k)
    out.fill(0x20, pos, pos + k) // spaces
    pos += k
  }
  if (pos !== out.length) throw new Error(`synthetic model layout is off: wrote ${pos} of ${out.length} bytes`)
  return out
}

/** The shape syntheticModelOfSize uses for a size: wider inputs and deeper stacks for larger models. */
export function syntheticShapeOfSize (bytes: number): Pick<SyntheticMlpOptions, 'inputSize' | 'outputSize' | 'layers'> {
  const MiB = 1024 * 1024
  if (bytes < MiB) return { inputSize: 16, outputSize: 8, layers: 2 }
  if (bytes < 64 * MiB) return { inputSize: 64, outputSize: 16, layers: 3 }
  if (bytes < 256 * MiB) return { inputSize: 64, outputSize: 16, layers: 4 }
  return { inputSize: 64, outputSize: 16, layers: 6 }
}

/** A runnable model of exactly `bytes` bytes (from under 1 KiB to 2 GiB), deterministic in (bytes, seed). */
export function syntheticModelOfSize (bytes: number, seed: number): Uint8Array {
  return syntheticMlp({ ...syntheticShapeOfSize(bytes), seed, targetBytes: bytes })
}
