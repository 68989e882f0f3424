import ort from 'onnxruntime-node'
import { InputMismatchError, TensorFormatError, TensorTooLargeError } from './errors.js'
import type { TensorSpec } from './model-signature.js'
import type { Tensor as TensorProto } from './pb/infer.js'

/**
 * Tensors in and out of herd: the JSON form of the CLI and the HTTP API, and the protobuf form of
 * /herd/infer/1.0.0, both to and from onnxruntime's `ort.Tensor`, checked against limits.
 *
 * JSON: `{ type, dims, data }` with `data` flat, row-major; or `{ type, dims, base64 }` with the raw
 * little-endian bytes (not for strings). Proto: `Tensor` with the same bytes in `data`, or `strings`.
 */

export const TENSOR_TYPES = [
  'float32', 'float64', 'float16', 'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'string'
] as const

export type TensorType = typeof TENSOR_TYPES[number]
export type NumericTensorType = Exclude<TensorType, 'string'>

/** One element in JSON: a number, a decimal string (64-bit integers), "NaN"/"Infinity"/"-Infinity"/"-0" (floats), a boolean or a string. */
export type JsonElement = number | string | boolean

export interface JsonTensorData {
  type: TensorType
  dims: number[]
  data: JsonElement[]
}

export interface JsonTensorBinary {
  type: NumericTensorType
  dims: number[]
  /** The elements' raw little-endian bytes, standard base64 (bool: one byte each, 0 or 1). */
  base64: string
}

export type JsonTensor = JsonTensorData | JsonTensorBinary

export interface TensorLimits {
  /** Elements in one tensor. */
  maxElements: number
  /** Bytes of one tensor's data (strings: their UTF-8 bytes). */
  maxBytes: number
  /** Rank of one tensor. */
  maxDims: number
  /** Tensors in one record. */
  maxTensors: number
}

export const DEFAULT_MAX_ELEMENTS = 64 * 1024 * 1024
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024
export const DEFAULT_MAX_DIMS = 8
export const DEFAULT_MAX_TENSORS = 64

export const DEFAULT_TENSOR_LIMITS: Readonly<TensorLimits> = Object.freeze({
  maxElements: DEFAULT_MAX_ELEMENTS,
  maxBytes: DEFAULT_MAX_BYTES,
  maxDims: DEFAULT_MAX_DIMS,
  maxTensors: DEFAULT_MAX_TENSORS
})

type TypedArray = Float32Array | Float64Array | Uint16Array | Int8Array | Int16Array | Int32Array | BigInt64Array |
Uint8Array | Uint32Array | BigUint64Array
type TypedArrayConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => TypedArray

interface NumericInfo {
  size: number
  /** The array the elements are kept in (float16: its bits, in a Uint16Array). */
  array: TypedArrayConstructor & { new (length: number): TypedArray }
  kind: 'float' | 'half' | 'int' | 'bigint' | 'bool'
  min?: number | bigint
  max?: number | bigint
}

const NUMERIC: Record<NumericTensorType, NumericInfo> = {
  float32: { size: 4, array: Float32Array, kind: 'float' },
  float64: { size: 8, array: Float64Array, kind: 'float' },
  float16: { size: 2, array: Uint16Array, kind: 'half' },
  int8: { size: 1, array: Int8Array, kind: 'int', min: -128, max: 127 },
  int16: { size: 2, array: Int16Array, kind: 'int', min: -32768, max: 32767 },
  int32: { size: 4, array: Int32Array, kind: 'int', min: -2147483648, max: 2147483647 },
  int64: { size: 8, array: BigInt64Array, kind: 'bigint', min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint8: { size: 1, array: Uint8Array, kind: 'int', min: 0, max: 255 },
  uint16: { size: 2, array: Uint16Array, kind: 'int', min: 0, max: 65535 },
  uint32: { size: 4, array: Uint32Array, kind: 'int', min: 0, max: 4294967295 },
  uint64: { size: 8, array: BigUint64Array, kind: 'bigint', min: 0n, max: 2n ** 64n - 1n },
  bool: { size: 1, array: Uint8Array, kind: 'bool' }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
/**
 * Standard padded base64, checked by a round trip: Node's decoder skips what it
 * does not understand, so only text that re-encodes to itself is accepted. (A
 * regular expression took ~0.6 ms per 64 KiB, 25 times the decoding.)
 */
function isStandardBase64 (text: string): boolean {
  return text.length % 4 === 0 && Buffer.from(text, 'base64').toString('base64') === text
}
const DECIMAL = /^-?[0-9]{1,30}$/
const FLOAT_WORDS: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 }

// ---- float16 -------------------------------------------------------------------------------------

interface Float16ArrayLike { [index: number]: number, readonly length: number }
type Float16ArrayConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => Float16ArrayLike
const NativeFloat16Array = (globalThis as { Float16Array?: Float16ArrayConstructor }).Float16Array

/** The IEEE 754 half nearest to `value` (ties to even), as its 16 bits. Pure JS; the codec uses Float16Array when Node has it. */
export function halfBitsFromNumber (value: number): number {
  if (Number.isNaN(value)) return 0x7e00
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0
  const a = Math.abs(value)
  if (a >= 65520) return sign | 0x7c00 // 65504 + half an ulp and above round to infinity
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24) // subnormal: units of 2^-24; 1024 is the smallest normal
  let e = Math.floor(Math.log2(a))
  if (2 ** e > a) e--
  else if (2 ** (e + 1) <= a) e++
  // (a / 2^e - 1) * 1024 is exact in a double; a mantissa that rounds up to 1024 carries into the exponent
  return sign | (((e + 15) << 10) + roundHalfEven((a / 2 ** e - 1) * 1024))
}

/** The number an IEEE 754 half's 16 bits stand for. Pure JS. */
export function numberFromHalfBits (bits: number): number {
  const sign = (bits & 0x8000) !== 0 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN
  return sign * (1024 + mantissa) * 2 ** (exponent - 25)
}

function roundHalfEven (x: number): number {
  const floor = Math.floor(x)
  const rest = x - floor
  if (rest > 0.5 || (rest === 0.5 && floor % 2 === 1)) return floor + 1
  return floor
}

function halvesOf (bits: Uint16Array): Float16ArrayLike {
  if (NativeFloat16Array != null) return new NativeFloat16Array(bits.buffer as ArrayBuffer, bits.byteOffset, bits.length)
  return Array.from(bits, numberFromHalfBits)
}

/**
 * A float16 `ort.Tensor` over `bits`. onnxruntime-common wraps the bits in a Float16Array view when
 * Node has Float16Array (24+), and onnxruntime-node 1.30's binding reads such a view as zero bytes
 * ("not enough space: expected 8, got 0", microsoft/onnxruntime#32323): the tensor's `data` stays the
 * Uint16Array, which the binding accepts.
 */
function float16Tensor (bits: Uint16Array, dims: readonly number[]): ort.Tensor {
  const tensor = new ort.Tensor('float16', bits, dims)
  if (!(tensor.data instanceof Uint16Array)) Object.defineProperty(tensor, 'data', { value: bits, enumerable: true })
  return tensor
}

/** `tensor`, or for a float16 tensor whose data is a Float16Array (onnxruntime's outputs), the same bits in a tensor onnxruntime-node can take as an input. */
export function feedableTensor (tensor: ort.Tensor): ort.Tensor {
  if (tensor.type !== 'float16' || tensor.data instanceof Uint16Array) return tensor
  const data = tensor.data as unknown as ArrayBufferView
  return float16Tensor(new Uint16Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength / 2), tensor.dims)
}

// ---- shared checks -------------------------------------------------------------------------------

/** Characters of a value, and of a name, an error message shows: it says what was wrong, it does not echo the input back. */
const SHOWN_CHARS = 40
const SHOWN_NAME_CHARS = 64
/** Levels and items of a nested value that an error message looks at. */
const SKETCH_DEPTH = 3
const SKETCH_ITEMS = 4

function quote (text: string, max = SHOWN_NAME_CHARS): string {
  return text.length > max ? `${JSON.stringify(text.slice(0, max))}...` : JSON.stringify(text)
}

function label (name: string): string {
  return `tensor ${quote(name)}`
}

/**
 * A value for an error message, at most SHOWN_CHARS long. It looks only a few
 * levels and items in: JSON.stringify walks the whole value (and overflows the
 * stack on input nested thousands deep) to keep 40 characters of it.
 */
function show (value: unknown): string {
  const text = sketch(value, 0)
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS - 3)}...` : text
}

function sketch (value: unknown, depth: number): string {
  if (typeof value === 'string') return quote(value, SHOWN_CHARS)
  if (value === null || typeof value !== 'object') return String(value)
  if (depth >= SKETCH_DEPTH) return Array.isArray(value) ? '[...]' : '{...}'
  if (Array.isArray(value)) {
    const items = value.slice(0, SKETCH_ITEMS).map(item => sketch(item, depth + 1))
    return `[${items.join(',')}${value.length > SKETCH_ITEMS ? ',...' : ''}]`
  }
  const items: string[] = []
  // for-in, not Object.entries: an object of millions of keys is not copied to show four.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (items.length === SKETCH_ITEMS) {
      items.push('...')
      break
    }
    items.push(`${quote(key, SHOWN_CHARS)}:${sketch((value as Record<string, unknown>)[key], depth + 1)}`)
  }
  return `{${items.join(',')}}`
}

function resolveLimits (limits?: Partial<TensorLimits>): TensorLimits {
  return {
    maxElements: limits?.maxElements ?? DEFAULT_MAX_ELEMENTS,
    maxBytes: limits?.maxBytes ?? DEFAULT_MAX_BYTES,
    maxDims: limits?.maxDims ?? DEFAULT_MAX_DIMS,
    maxTensors: limits?.maxTensors ?? DEFAULT_MAX_TENSORS
  }
}

function checkType (name: string, type: unknown): TensorType {
  if (typeof type === 'string' && (TENSOR_TYPES as readonly string[]).includes(type)) return type as TensorType
  throw new TensorFormatError(name, `${label(name)}: unknown type ${show(type)} (one of ${TENSOR_TYPES.join(', ')})`)
}

/** Checks dims and returns the element count, within the limits. */
function checkDims (name: string, type: TensorType, dims: unknown, limits: TensorLimits): { dims: number[], count: number } {
  if (!Array.isArray(dims)) throw new TensorFormatError(name, `${label(name)}: dims must be an array of non-negative integers, got ${show(dims)}`)
  if (dims.length > limits.maxDims) throw new TensorFormatError(name, `${label(name)}: ${dims.length} dims, more than the limit of ${limits.maxDims}`)
  let count = 1
  for (const [axis, d] of dims.entries()) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new TensorFormatError(name, `${label(name)}: dims must be non-negative integers; axis ${axis} is ${show(d)}`)
    }
    count = count === 0 || d === 0 ? 0 : Math.min(count * d, Number.MAX_SAFE_INTEGER)
  }
  if (count > limits.maxElements) {
    throw new TensorTooLargeError(name, `${label(name)}: ${count} elements (dims [${dims.join(', ')}]), more than the limit of ${limits.maxElements}`)
  }
  if (type !== 'string') checkBytes(name, count * NUMERIC[type].size, limits)
  return { dims: dims as number[], count }
}

function checkBytes (name: string, bytes: number, limits: TensorLimits): void {
  if (bytes > limits.maxBytes) throw new TensorTooLargeError(name, `${label(name)}: ${bytes} bytes of data, more than the limit of ${limits.maxBytes}`)
}

function checkStrings (name: string, values: readonly unknown[], limits: TensorLimits): string[] {
  let bytes = 0
  for (const [i, v] of values.entries()) {
    if (typeof v !== 'string') throw new TensorFormatError(name, `${label(name)}: element ${i} is ${show(v)}, not a string`)
    // onnxruntime-node passes strings to onnxruntime as C strings, cutting them at the first NUL without a word
    if (v.includes('\u0000')) throw new TensorFormatError(name, `${label(name)}: element ${i} contains U+0000, which onnxruntime cannot take in a string`)
    bytes += Buffer.byteLength(v, 'utf8')
  }
  checkBytes(name, bytes, limits)
  return values as string[]
}

function swapBytes (bytes: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j] as number
  }
  return out
}

/** Elements of `type` over little-endian `bytes`; a view when aligned, else a copy. */
function arrayFromBytes (name: string, type: NumericTensorType, bytes: Uint8Array, count: number, what: string): TypedArray {
  const info = NUMERIC[type]
  if (bytes.byteLength !== count * info.size) {
    throw new TensorFormatError(name, `${label(name)}: ${what} has ${bytes.byteLength} bytes, ${type} × ${count} elements needs ${count * info.size}`)
  }
  let source: Uint8Array = LITTLE_ENDIAN ? bytes : swapBytes(bytes, info.size)
  // A copy, not `slice()`: on a Node Buffer (as protobuf decoding may give) slice is a view at the same offset.
  if (source.byteOffset % info.size !== 0 || !(source.buffer instanceof ArrayBuffer)) source = new Uint8Array(source)
  const array = new info.array(source.buffer as ArrayBuffer, source.byteOffset, count)
  if (info.kind === 'bool') {
    const i = (array as Uint8Array).findIndex(b => b > 1)
    if (i >= 0) throw new TensorFormatError(name, `${label(name)}: bool element ${i} is the byte ${array[i]}, not 0 or 1`)
  }
  return array
}

function makeTensor (type: TensorType, data: TypedArray | string[], dims: number[]): ort.Tensor {
  if (type === 'float16') return float16Tensor(data as Uint16Array, dims)
  return new ort.Tensor(type, data as Uint8Array, dims)
}

/** The tensor's type, dims and data, checked to agree. */
function readTensor (name: string, tensor: ort.Tensor): { type: TensorType, dims: number[], data: ArrayBufferView | string[] } {
  if (tensor == null || typeof tensor !== 'object') throw new TensorFormatError(name, `${label(name)}: not a tensor`)
  const type = checkType(name, tensor.type)
  if (tensor.location != null && tensor.location !== 'cpu' && tensor.location !== 'cpu-pinned') {
    throw new TensorFormatError(name, `${label(name)}: its data is on ${tensor.location}, not the CPU`)
  }
  const { dims, count } = checkDims(name, type, [...tensor.dims], { maxElements: Infinity, maxBytes: Infinity, maxDims: Infinity, maxTensors: Infinity })
  const data = tensor.data as unknown
  if (type === 'string') {
    if (!Array.isArray(data) || data.length !== count) throw new TensorFormatError(name, `${label(name)}: a string tensor of ${count} elements needs as many strings`)
    return { type, dims, data: data as string[] }
  }
  if (!ArrayBuffer.isView(data) || data.byteLength !== count * NUMERIC[type].size) {
    throw new TensorFormatError(name, `${label(name)}: its data does not hold ${count} ${type} elements`)
  }
  return { type, dims, data }
}

function leBytes (data: ArrayBufferView, size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (!LITTLE_ENDIAN) return swapBytes(bytes, size)
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : new Uint8Array(bytes)
}

/**
 * The ArrayBuffers that protobuf tensors' data fill whole, each once: what a
 * thread can hand to another in postMessage's transfer list. A view of part
 * of a buffer is left out: handing it over would take the rest too.
 */
export function ownBuffers (tensors: readonly TensorProto[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>()
  for (const { data } of tensors) {
    if (data.buffer instanceof ArrayBuffer && data.byteLength > 0 && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) buffers.add(data.buffer)
  }
  return [...buffers]
}

// ---- JSON ----------------------------------------------------------------------------------------

/** Reads a tensor in JSON form (`{ type, dims, data }` or `{ type, dims, base64 }`). */
export function tensorFromJson (name: string, value: unknown, limits?: Partial<TensorLimits>): ort.Tensor {
  const lim = resolveLimits(limits)
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TensorFormatError(name, `${label(name)}: must be an object { type, dims, data } or { type, dims, base64 }, got ${show(value)}`)
  }
  const v = value as Record<string, unknown>
  const type = checkType(name, v.type)
  const { dims, count } = checkDims(name, type, v.dims, lim)
  const hasData = v.data !== undefined
  const hasBase64 = v.base64 !== undefined
  if (hasData === hasBase64) throw new TensorFormatError(name, `${label(name)}: give either data or base64`)

  if (hasBase64) {
    if (type === 'string') throw new TensorFormatError(name, `${label(name)}: string tensors have no binary form; use data`)
    const text = v.base64
    if (typeof text !== 'string' || !isStandardBase64(text)) throw new TensorFormatError(name, `${label(name)}: base64 is not standard padded base64`)
    const expected = count * NUMERIC[type].size
    const got = text.length / 4 * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0)
    if (got !== expected) {
      throw new TensorFormatError(name, `${label(name)}: base64 has ${got} bytes, ${type} × ${count} elements needs ${expected}`)
    }
    return makeTensor(type, arrayFromBytes(name, type, new Uint8Array(Buffer.from(text, 'base64')), count, 'base64'), dims)
  }

  const data = v.data
  if (!Array.isArray(data)) throw new TensorFormatError(name, `${label(name)}: data must be a flat array, got ${show(data)}`)
  if (data.length !== count) {
    throw new TensorFormatError(name, `${label(name)}: data has ${data.length} elements, dims [${dims.join(', ')}] need ${count}`)
  }
  if (type === 'string') return makeTensor(type, checkStrings(name, data, lim), dims)
  return makeTensor(type, arrayFromJson(name, type, data), dims)
}

function arrayFromJson (name: string, type: NumericTensorType, data: readonly unknown[]): TypedArray {
  const info = NUMERIC[type]
  const out = new info.array(data.length)
  function fail (i: number, why: string): never {
    throw new TensorFormatError(name, `${label(name)}: element ${i} ${why}`)
  }
  switch (info.kind) {
    case 'float':
    case 'half': {
      const round = type === 'float32' ? Math.fround : type === 'float16' ? halfRound : (x: number) => x
      // float16 is kept as bits: written through a Float16Array view when Node has one
      const halves = type === 'float16' && NativeFloat16Array != null ? new NativeFloat16Array(out.buffer as ArrayBuffer, 0, out.length) : undefined
      const floats = type === 'float16' ? undefined : out as Float32Array | Float64Array
      for (const [i, e] of data.entries()) {
        let x: number
        if (typeof e === 'number') x = e
        else if (typeof e === 'string' && Object.hasOwn(FLOAT_WORDS, e)) x = FLOAT_WORDS[e] as number
        else fail(i, `is ${show(e)}, not a number (or "NaN", "Infinity", "-Infinity", "-0")`)
        if (Number.isFinite(x) && !Number.isFinite(round(x))) fail(i, `(${x}) is out of range for ${type}`)
        if (floats != null) floats[i] = x
        else if (halves != null) halves[i] = x
        else out[i] = halfBitsFromNumber(x)
      }
      return out
    }
    case 'int': {
      const min = info.min as number
      const max = info.max as number
      for (const [i, e] of data.entries()) {
        if (typeof e !== 'number') fail(i, `is ${show(e)}, not a number`)
        if (!Number.isInteger(e)) fail(i, `(${show(e)}) is not an integer`)
        if (e < min || e > max) fail(i, `(${e}) is out of range for ${type} (${min} to ${max})`)
        out[i] = e
      }
      return out
    }
    case 'bigint': {
      const min = info.min as bigint
      const max = info.max as bigint
      for (const [i, e] of data.entries()) {
        let x: bigint
        if (typeof e === 'number') {
          if (!Number.isSafeInteger(e)) fail(i, `(${show(e)}) is not a safe integer; give 64-bit integers beyond ±2^53 as decimal strings`)
          x = BigInt(e)
        } else if (typeof e === 'string' && DECIMAL.test(e)) {
          x = BigInt(e)
        } else {
          fail(i, `is ${show(e)}, not an integer or a decimal string`)
        }
        if (x < min || x > max) fail(i, `(${show(e)}) is out of range for ${type} (${min} to ${max})`)
        out[i] = x
      }
      return out
    }
    case 'bool': {
      for (const [i, e] of data.entries()) {
        if (typeof e !== 'boolean') fail(i, `is ${show(e)}, not true or false`)
        out[i] = e ? 1 : 0
      }
      return out
    }
  }
}

function halfRound (x: number): number {
  const f16round = (Math as { f16round?: (x: number) => number }).f16round
  return f16round != null ? f16round(x) : numberFromHalfBits(halfBitsFromNumber(x))
}

function floatToJson (x: number): number | string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Number.POSITIVE_INFINITY) return 'Infinity'
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity'
  if (Object.is(x, -0)) return '-0'
  return x
}

/** The JSON form of a tensor: `data` (default), or `base64` with `binary: true` (string tensors always use `data`). */
export function tensorToJson (tensor: ort.Tensor, options: { binary?: boolean, name?: string } = {}): JsonTensor {
  const name = options.name ?? ''
  const { type, dims, data } = readTensor(name, tensor)
  if (type === 'string') return { type, dims, data: [...(data as string[])] }
  const view = data as ArrayBufferView
  if (options.binary === true) return { type, dims, base64: Buffer.from(leBytes(view, NUMERIC[type].size)).toString('base64') }
  let out: JsonElement[]
  switch (NUMERIC[type].kind) {
    case 'float':
      out = Array.from(view as Float32Array | Float64Array, floatToJson)
      break
    case 'half': {
      const halves = halvesOf(new Uint16Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength / 2))
      out = new Array<JsonElement>(halves.length)
      for (let i = 0; i < halves.length; i++) out[i] = floatToJson(halves[i] as number)
      break
    }
    case 'int':
      out = Array.from(view as Int32Array)
      break
    case 'bigint':
      out = Array.from(view as BigInt64Array, x => {
        const n = Number(x)
        return Number.isSafeInteger(n) ? n : x.toString()
      })
      break
    case 'bool':
      out = Array.from(view as Uint8Array, b => b !== 0)
      break
  }
  return { type, dims, data: out }
}

/** Reads a record of named tensors in JSON form (at most `maxTensors`). */
export function tensorsFromJson (record: unknown, limits?: Partial<TensorLimits>): Record<string, ort.Tensor> {
  const lim = resolveLimits(limits)
  if (record == null || typeof record !== 'object' || Array.isArray(record)) {
    throw new TensorFormatError('', `tensors must be an object of name → tensor, got ${show(record)}`)
  }
  const entries = Object.entries(record)
  if (entries.length > lim.maxTensors) {
    throw new TensorTooLargeError('', `${entries.length} tensors, more than the limit of ${lim.maxTensors}`)
  }
  const out: Record<string, ort.Tensor> = {}
  for (const [name, value] of entries) out[name] = tensorFromJson(name, value, lim)
  return out
}

/** The JSON form of a record of named tensors. */
export function tensorsToJson (record: Readonly<Record<string, ort.Tensor>>, options: { binary?: boolean } = {}): Record<string, JsonTensor> {
  const out: Record<string, JsonTensor> = {}
  for (const [name, tensor] of Object.entries(record)) out[name] = tensorToJson(tensor, { ...options, name })
  return out
}

// ---- protobuf ------------------------------------------------------------------------------------

/** The protobuf form of a tensor. Numeric data is a view of the tensor's memory on little-endian hosts. */
export function tensorToProto (name: string, tensor: ort.Tensor): TensorProto {
  const { type, dims, data } = readTensor(name, tensor)
  const pbDims = dims.map(d => BigInt(d))
  if (type === 'string') return { name, type, dims: pbDims, data: new Uint8Array(0), strings: [...(data as string[])] }
  return { name, type, dims: pbDims, data: leBytes(data as ArrayBufferView, NUMERIC[type].size), strings: [] }
}

/** Reads a tensor in protobuf form; errors name it by `pb.name`. */
export function tensorFromProto (pb: TensorProto, limits?: Partial<TensorLimits>): ort.Tensor {
  const lim = resolveLimits(limits)
  const name = pb.name
  const type = checkType(name, pb.type)
  if (pb.dims.length > lim.maxDims) throw new TensorFormatError(name, `${label(name)}: ${pb.dims.length} dims, more than the limit of ${lim.maxDims}`)
  for (const [axis, d] of pb.dims.entries()) {
    if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw new TensorFormatError(name, `${label(name)}: axis ${axis} is ${d}, too large for a dimension`)
  }
  const { dims, count } = checkDims(name, type, pb.dims.map(Number), lim)
  if (type === 'string') {
    if (pb.data.byteLength > 0) throw new TensorFormatError(name, `${label(name)}: a string tensor has its elements in strings, not data`)
    if (pb.strings.length !== count) {
      throw new TensorFormatError(name, `${label(name)}: ${pb.strings.length} strings, dims [${dims.join(', ')}] need ${count}`)
    }
    return makeTensor(type, checkStrings(name, pb.strings, lim), dims)
  }
  if (pb.strings.length > 0) throw new TensorFormatError(name, `${label(name)}: a ${type} tensor has its elements in data, not strings`)
  return makeTensor(type, arrayFromBytes(name, type, pb.data, count, 'data'), dims)
}

/** Reads a list of protobuf tensors into a record, refusing repeated names and more than `maxTensors`. */
export function tensorsFromProto (list: readonly TensorProto[], limits?: Partial<TensorLimits>): Record<string, ort.Tensor> {
  const lim = resolveLimits(limits)
  if (list.length > lim.maxTensors) throw new TensorTooLargeError('', `${list.length} tensors, more than the limit of ${lim.maxTensors}`)
  const out: Record<string, ort.Tensor> = {}
  for (const pb of list) {
    if (Object.hasOwn(out, pb.name)) throw new TensorFormatError(pb.name, `${label(pb.name)} is given twice`)
    out[pb.name] = tensorFromProto(pb, lim)
  }
  return out
}

/** The protobuf form of a record of named tensors. */
export function tensorsToProto (record: Readonly<Record<string, ort.Tensor>>): TensorProto[] {
  return Object.entries(record).map(([name, tensor]) => tensorToProto(name, tensor))
}

// ---- signatures ----------------------------------------------------------------------------------

function describeSpec (spec: TensorSpec): string {
  return `${spec.name}: ${spec.type}[${spec.shape.join(', ')}]`
}

function isDynamic (d: number | string): boolean {
  return typeof d === 'string' || d < 0
}

/**
 * Checks inputs against a model's declared inputs (as readOnnxSignature gives them): every name known
 * and present, the type, the rank and each fixed dimension. Symbolic dimensions (strings, or -1) take
 * any size. Throws one InputMismatchError listing every mismatch.
 */
export function checkInputs (inputs: Readonly<Record<string, ort.Tensor>>, specs: readonly TensorSpec[]): void {
  const problems: Array<{ input: string, problem: string }> = []
  const byName = new Map(specs.map(s => [s.name, s]))
  for (const name of Object.keys(inputs)) {
    if (!byName.has(name)) {
      problems.push({ input: name, problem: `unknown input ${quote(name)}; the model's inputs are ${specs.map(describeSpec).join(', ') || 'none'}` })
    }
  }
  for (const spec of specs) {
    const tensor = inputs[spec.name]
    const quoted = JSON.stringify(spec.name)
    if (tensor == null || !Object.hasOwn(inputs, spec.name)) {
      problems.push({ input: spec.name, problem: `missing input ${quoted} (${describeSpec(spec)})` })
      continue
    }
    if (tensor.type !== spec.type) {
      problems.push({ input: spec.name, problem: `input ${quoted} is ${tensor.type}, the model expects ${describeSpec(spec)}` })
      continue
    }
    if (tensor.dims.length !== spec.shape.length) {
      problems.push({
        input: spec.name,
        problem: `input ${quoted} has rank ${tensor.dims.length} (dims [${tensor.dims.join(', ')}]), the model expects rank ${spec.shape.length}: ${describeSpec(spec)}`
      })
      continue
    }
    for (const [axis, expected] of spec.shape.entries()) {
      const got = tensor.dims[axis] as number
      if (!isDynamic(expected) && got !== expected) {
        problems.push({ input: spec.name, problem: `input ${quoted} axis ${axis} is ${got}, the model expects ${expected} (${describeSpec(spec)})` })
      }
    }
  }
  const first = problems[0]
  if (first != null) throw new InputMismatchError(first.input, problems.map(p => p.problem))
}
