import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { BUNDLE_VERSION, decodeBundle, encodeBundle } from '../../src/proof/bundle.js'
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
})
