import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { BUNDLE_VERSION, decodeBundle, encodeBundle, receiptsFromPrefix, receiptsSectionBound } from '../../src/proof/bundle.js'
import { MAX_SIGNED_RECEIPT_BYTES } from '../../src/proof/receipt.js'
import { Bundle } from '../../src/proof/pb/proof.js'

describe('bundle encoding', () => {
  it('gives the bytes protons gives, entry lengths either side of each varint width, empty entries included', () => {
    const lengths = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000, 2_097_151, 2_097_152]
    for (let n = 1; n <= lengths.length; n++) {
      const contents = {
        receipts: Array.from({ length: n }, (_, i) => randomBytes(200 + i)),
        inputs: Array.from({ length: n }, (_, i) => randomBytes(lengths[i % lengths.length]!)),
        outputs: Array.from({ length: n }, (_, i) => randomBytes(lengths[(i + 3) % lengths.length]!))
      }
      const ours = encodeBundle(contents)
      assert.deepEqual(Buffer.from(ours), Buffer.from(Bundle.encode({ version: BUNDLE_VERSION, ...contents })), `${n} receipts`)
      const back = decodeBundle(ours)
      assert.deepEqual(back.inputs.map(b => Buffer.from(b)), contents.inputs)
    }
  })

  it('writes into the buffer it is given when that has room, and into a new one when not', () => {
    const contents = { receipts: [randomBytes(250), randomBytes(250)], inputs: [randomBytes(1000), new Uint8Array(0)], outputs: [randomBytes(500), randomBytes(10)] }
    const expected = Buffer.from(encodeBundle(contents))
    const roomy = new Uint8Array(expected.byteLength + 100).fill(0xee)
    const inRoomy = encodeBundle(contents, roomy)
    assert.equal(inRoomy.buffer, roomy.buffer)
    assert.equal(inRoomy.byteLength, expected.byteLength)
    assert.deepEqual(Buffer.from(inRoomy), expected)
    assert.ok(roomy.subarray(expected.byteLength).every(b => b === 0xee), 'nothing written past the bundle')
    const small = new Uint8Array(expected.byteLength - 1)
    const inNew = encodeBundle(contents, small)
    assert.notEqual(inNew.buffer, small.buffer)
    assert.deepEqual(Buffer.from(inNew), expected)
  })

  it('reads a bundle\'s receipts from its first bytes, whatever tensors follow', () => {
    const receipts = [randomBytes(MAX_SIGNED_RECEIPT_BYTES), randomBytes(1), randomBytes(300), randomBytes(127), randomBytes(128)]
    const withTensors = encodeBundle({ receipts, inputs: receipts.map(() => randomBytes(70_000)), outputs: receipts.map(() => randomBytes(20_000)) })
    const bound = receiptsSectionBound(receipts.length)
    assert.ok(bound < 3000 && bound < withTensors.byteLength / 100, `${bound} bytes of a ${withTensors.byteLength}-byte bundle`)
    assert.deepEqual(receiptsFromPrefix(withTensors.subarray(0, bound), receipts.length)?.map(r => Buffer.from(r)), receipts)
    // A bundle shorter than the bound (no tensors) is read whole; only the tag after the receipts must be there.
    const without = encodeBundle({ receipts, inputs: receipts.map(() => new Uint8Array(0)), outputs: receipts.map(() => new Uint8Array(0)) })
    const receiptsEnd = without.byteLength - 4 * receipts.length
    assert.deepEqual(receiptsFromPrefix(without, receipts.length)?.map(r => Buffer.from(r)), receipts)
    assert.deepEqual(receiptsFromPrefix(without.subarray(0, receiptsEnd + 1), receipts.length)?.map(r => Buffer.from(r)), receipts)
    assert.equal(receiptsFromPrefix(without.subarray(0, receiptsEnd), receipts.length), undefined, 'what follows the last receipt is not known')
  })

  it('leaves to a whole decode any other layout: counts, version, field order, lengths, junk', () => {
    const receipts = [randomBytes(200), randomBytes(210), randomBytes(220)]
    const empty = receipts.map(() => new Uint8Array(0))
    const bundle = encodeBundle({ receipts, inputs: receipts.map(() => randomBytes(50)), outputs: empty })
    assert.ok(receiptsFromPrefix(bundle, 3) != null)
    assert.equal(receiptsFromPrefix(bundle, 2), undefined, 'more receipts than the anchor counts')
    assert.equal(receiptsFromPrefix(bundle, 4), undefined, 'fewer receipts than the anchor counts')
    assert.equal(receiptsFromPrefix(Uint8Array.from([0x08, 0x02, ...bundle.subarray(2)]), 3), undefined, 'another version')
    // Valid protobuf that decodeBundle reads as the same bundle: an inputs entry among the receipts.
    const interleaved = Buffer.concat([
      Bundle.encode({ version: BUNDLE_VERSION, receipts: receipts.slice(0, 2), inputs: [], outputs: [] }),
      Bundle.encode({ version: 0, receipts: [], inputs: [randomBytes(50)], outputs: [] }),
      Bundle.encode({ version: 0, receipts: receipts.slice(2), inputs: [randomBytes(50), randomBytes(50)], outputs: empty })
    ])
    assert.equal(decodeBundle(interleaved).receipts.length, 3)
    assert.equal(receiptsFromPrefix(interleaved, 3), undefined)
    // A length in two bytes where one does: valid protobuf, not encodeBundle's.
    const long = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 0x80 | 5, 0x00]), randomBytes(5), Buffer.from([0x1a, 0x00, 0x22, 0x00])])
    assert.equal(decodeBundle(long).receipts[0]?.byteLength, 5)
    assert.equal(receiptsFromPrefix(long, 1), undefined)
    const oversized = encodeBundle({ receipts: [randomBytes(MAX_SIGNED_RECEIPT_BYTES + 1)], inputs: [new Uint8Array(0)], outputs: [new Uint8Array(0)] })
    assert.equal(receiptsFromPrefix(oversized, 1), undefined, 'a receipt over the largest a receipt can be')
    assert.equal(receiptsFromPrefix(bundle.subarray(0, 300), 3), undefined, 'cut inside a receipt')
    assert.equal(receiptsFromPrefix(Uint8Array.from([0x08, 0x01, 0x12, 0xff, 0xff]), 1), undefined, 'cut inside a length')
    assert.equal(receiptsFromPrefix(new Uint8Array(0), 1), undefined)
    for (let i = 0; i < 200; i++) assert.equal(receiptsFromPrefix(randomBytes(64), 1 + (i % 4)), undefined)
  })
})
