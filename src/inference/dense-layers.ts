import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

/**
 * The dense layers (MatMul and Gemm by a weight matrix) of an ONNX model, read from the file's
 * protobuf without loading the weights: onnxruntime-node tells a session's inputs and outputs but
 * not the width of its hidden layers, and a dense layer's output is rows × width whatever the
 * model's declared outputs say (an MLP with 8 outputs and 512 hidden units holds 64× more per row
 * than it returns). Only the fields needed are read; weights are skipped over by their length.
 */

export interface DenseLayer {
  /** Features in (K of a [K, N] weight). */
  inputWidth: number
  /** Features out (N). */
  outputWidth: number
}

/** A model file whose structure cannot be walked (truncated, or not protobuf). */
export class ModelScanError extends Error {
  override readonly name = 'ModelScanError'
}

// ModelProto.graph; GraphProto.node, .initializer; NodeProto.input, .op_type, .attribute;
// AttributeProto.name, .i; TensorProto.dims, .name
const MODEL_GRAPH = 7
const GRAPH_NODE = 1
const GRAPH_INITIALIZER = 5
const NODE_INPUT = 1
const NODE_OP_TYPE = 4
const NODE_ATTRIBUTE = 5
const ATTRIBUTE_NAME = 1
const ATTRIBUTE_I = 3
const TENSOR_DIMS = 1
const TENSOR_NAME = 8

/** Longer names than this are not read (onnxruntime would not load such a model either). */
const MAX_NAME = 64 * 1024
const MAX_NODES = 1_000_000
const WINDOW = 4096

interface Field { number: number, wire: number, value: number, start: number, end: number }

/**
 * Positional reads through a small window, so the small fields of a graph cost few system calls and
 * skipping a weight costs nothing. Synchronous: it runs on an inference thread, whose event loop has
 * nothing else to do meanwhile. With a promise per field and a 64 KiB window, PaddleOCR detection's
 * scan (672 nodes, its weights in Constant nodes) took 130-160 ms; this way 1-10 ms.
 */
class Reader {
  private readonly fd: number
  readonly size: number
  private readonly buffer = Buffer.allocUnsafe(WINDOW)
  private window = Buffer.alloc(0)
  private windowStart = 0

  constructor (fd: number, size: number) {
    this.fd = fd
    this.size = size
  }

  bytes (position: number, length: number): Buffer {
    if (position + length > this.size) throw new ModelScanError(`the model ends at byte ${this.size}, a field runs to ${position + length}`)
    if (position < this.windowStart || position + length > this.windowStart + this.window.length) {
      const buffer = length <= WINDOW ? this.buffer : Buffer.allocUnsafe(length)
      const bytesRead = readSync(this.fd, buffer, 0, Math.min(buffer.length, this.size - position), position)
      if (bytesRead < length) throw new ModelScanError('the model file was cut short while it was read')
      this.window = buffer.subarray(0, bytesRead)
      this.windowStart = position
    }
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length)
  }

  varint (position: number): { value: number, next: number } {
    const bytes = this.bytes(position, Math.min(10, this.size - position))
    let value = 0
    let scale = 1
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number
      value += (byte & 0x7f) * scale
      scale *= 128
      if (byte < 0x80) return { value, next: position + i + 1 }
    }
    throw new ModelScanError(`a varint at byte ${position} does not end`)
  }

  /** The fields of the message in [start, end): for wire type 2, `value` is the length and [start, end) the payload. */
  * fields (start: number, end: number): Generator<Field> {
    let position = start
    while (position < end) {
      const key = this.varint(position)
      const wire = key.value % 8
      const number = Math.floor(key.value / 8)
      switch (wire) {
        case 0: {
          const v = this.varint(key.next)
          yield { number, wire, value: v.value, start: key.next, end: v.next }
          position = v.next
          break
        }
        case 1: position = key.next + 8; break
        case 5: position = key.next + 4; break
        case 2: {
          const length = this.varint(key.next)
          const fieldEnd = length.next + length.value
          if (fieldEnd > end) throw new ModelScanError(`a field at byte ${position} runs past its message`)
          yield { number, wire, value: length.value, start: length.next, end: fieldEnd }
          position = fieldEnd
          break
        }
        default: throw new ModelScanError(`wire type ${wire} at byte ${position}: not protobuf`)
      }
    }
  }
}

interface Node { opType: string, inputs: string[], transB: boolean }

const DENSE_OPS = new Set(['MatMul', 'Gemm'])

/** A MatMul or Gemm node; undefined for any other (whose attributes, such as a Constant's tensor, are not read). */
function readDenseNode (reader: Reader, field: Field): Node | undefined {
  const node: Node = { opType: '', inputs: [], transB: false }
  for (const f of reader.fields(field.start, field.end)) {
    if (f.wire !== 2) continue
    if (f.number === NODE_INPUT) {
      if (f.value > MAX_NAME) throw new ModelScanError(`an input name of ${f.value} bytes`)
      node.inputs.push((reader.bytes(f.start, f.value)).toString('utf8'))
    } else if (f.number === NODE_OP_TYPE) {
      node.opType = (reader.bytes(f.start, Math.min(f.value, MAX_NAME))).toString('utf8')
      if (!DENSE_OPS.has(node.opType)) return undefined
    } else if (f.number === NODE_ATTRIBUTE && DENSE_OPS.has(node.opType)) {
      let name = ''
      let i = 0
      for (const a of reader.fields(f.start, f.end)) {
        if (a.number === ATTRIBUTE_NAME && a.wire === 2) name = (reader.bytes(a.start, a.value)).toString('utf8')
        else if (a.number === ATTRIBUTE_I && a.wire === 0) i = a.value
      }
      if (name === 'transB') node.transB = i !== 0
    }
  }
  return DENSE_OPS.has(node.opType) ? node : undefined
}

function readTensorHeader (reader: Reader, field: Field): { name: string, dims: number[] } {
  let name = ''
  const dims: number[] = []
  for (const f of reader.fields(field.start, field.end)) {
    if (f.number === TENSOR_NAME && f.wire === 2) {
      if (f.value > MAX_NAME) throw new ModelScanError(`a tensor name of ${f.value} bytes`)
      name = (reader.bytes(f.start, f.value)).toString('utf8')
    } else if (f.number === TENSOR_DIMS && f.wire === 0) {
      dims.push(f.value)
    } else if (f.number === TENSOR_DIMS && f.wire === 2) {
      for (let p = f.start; p < f.end;) {
        const v = reader.varint(p)
        dims.push(v.value)
        p = v.next
      }
    }
  }
  return { name, dims }
}

/**
 * The MatMul and Gemm nodes of the main graph whose weight is a rank-2 initializer. A weight held in
 * a Constant node (PaddleOCR recognition's head) or a subgraph is not seen: the run estimate then
 * rests on the inputs and outputs, and the RSS check after the run.
 */
export function readDenseLayers (path: string): DenseLayer[] {
  const fd = openSync(path, 'r')
  try {
    const reader = new Reader(fd, fstatSync(fd).size)
    const nodes: Node[] = []
    let nodeCount = 0
    const weights = new Map<string, number[]>()
    for (const model of reader.fields(0, reader.size)) {
      if (model.number !== MODEL_GRAPH || model.wire !== 2) continue
      for (const graph of reader.fields(model.start, model.end)) {
        if (graph.wire !== 2) continue
        if (graph.number === GRAPH_NODE) {
          if (++nodeCount > MAX_NODES) throw new ModelScanError(`more than ${MAX_NODES} nodes`)
          const node = readDenseNode(reader, graph)
          if (node != null) nodes.push(node)
        } else if (graph.number === GRAPH_INITIALIZER) {
          const tensor = readTensorHeader(reader, graph)
          if (tensor.dims.length === 2) weights.set(tensor.name, tensor.dims)
        }
      }
    }
    const layers: DenseLayer[] = []
    for (const node of nodes) {
      const dims = weights.get(node.inputs[1] ?? '')
      if (dims == null) continue
      const [rows, cols] = dims as [number, number]
      layers.push(node.transB ? { inputWidth: cols, outputWidth: rows } : { inputWidth: rows, outputWidth: cols })
    }
    return layers
  } finally {
    closeSync(fd)
  }
}
