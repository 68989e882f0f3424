import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { fromBase64 } from '@mysten/sui/utils'
import { verifyPersonalMessageSignature } from '@mysten/sui/verify'
import { signEd25519PersonalMessage, verifyEd25519PersonalMessage } from '../../src/chain/personal-message.js'

describe('Sui personal-message signatures checked with Node\'s Ed25519', () => {
  it('agrees with the Sui SDK: the same signer for a good signature, a refusal for any changed byte', async () => {
    for (let i = 0; i < 20; i++) {
      const keypair = Ed25519Keypair.generate()
      // Lengths either side of one- and two-byte ULEB128 length prefixes.
      const message = randomBytes([0, 1, 127, 128, 300, 16_384][i % 6]!)
      const { signature } = await keypair.signPersonalMessage(message)
      const bytes = fromBase64(signature)
      const sdk = await verifyPersonalMessageSignature(message, signature)
      assert.equal(verifyEd25519PersonalMessage(message, bytes), sdk.toSuiAddress())
      assert.equal(verifyEd25519PersonalMessage(message, bytes), keypair.toSuiAddress())
      for (const at of [1, 40, 64, 65, 96]) {
        const forged = Uint8Array.from(bytes)
        forged[at] = forged[at]! ^ 0x01
        assert.throws(() => verifyEd25519PersonalMessage(message, forged), `a changed byte ${at} of the signature`)
      }
      const other = Buffer.concat([message, Buffer.from([0])])
      assert.throws(() => verifyEd25519PersonalMessage(other, bytes), 'another message')
    }
  })

  it('signs the bytes the Sui SDK signs: the same serialized signature, which the SDK verifies', async () => {
    for (let i = 0; i < 12; i++) {
      const keypair = Ed25519Keypair.generate()
      const message = randomBytes([0, 1, 127, 128, 300, 16_384][i % 6]!)
      const ours = signEd25519PersonalMessage(keypair, message)
      assert.deepEqual(Buffer.from(ours), Buffer.from(fromBase64((await keypair.signPersonalMessage(message)).signature)))
      assert.equal((await verifyPersonalMessageSignature(message, Buffer.from(ours).toString('base64'))).toSuiAddress(), keypair.toSuiAddress())
    }
  })

  it('refuses other schemes and lengths, saying what is wrong', async () => {
    const keypair = Ed25519Keypair.generate()
    const message = randomBytes(32)
    const bytes = fromBase64((await keypair.signPersonalMessage(message)).signature)
    assert.throws(() => verifyEd25519PersonalMessage(message, bytes.subarray(0, 96)), /is 97 bytes, not 96/)
    const secp = Uint8Array.from(bytes)
    secp[0] = 0x01
    assert.throws(() => verifyEd25519PersonalMessage(message, secp), /only Ed25519/)
  })
})
