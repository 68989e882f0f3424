import type { Signer } from '@mysten/sui/cryptography'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { fromBase64 } from '@mysten/sui/utils'
import { decodeSignedTx, decodeTxBody, encodeSignedTx, encodeTxBody, type TxPayload } from './codec.js'
import { InvalidTransactionError } from './errors.js'
import { signEd25519PersonalMessage, verifyEd25519PersonalMessage } from './personal-message.js'

/** Signs a transaction body as a Sui personal message, so any Sui wallet or verifier can check it. */
export async function signTx (signer: Signer, payload: TxPayload): Promise<Uint8Array> {
  const body = encodeTxBody(payload)
  // The same bytes either way (Ed25519 is deterministic); a node key is signed through OpenSSL.
  const signature = signer instanceof Ed25519Keypair ? signEd25519PersonalMessage(signer, body) : fromBase64((await signer.signPersonalMessage(body)).signature)
  return encodeSignedTx(body, signature)
}

export interface VerifiedTx {
  payload: TxPayload
  /** The Sui address of the public key that signed it. */
  sender: string
}

/** Decodes a signed transaction and checks its Ed25519 signature; throws InvalidTransactionError saying what failed. */
export async function verifyTx (txBytes: Uint8Array): Promise<VerifiedTx> {
  const { body, signature } = decodeSignedTx(txBytes)
  if (signature[0] !== 0x00) throw new InvalidTransactionError('only Ed25519 signatures (flag 0x00) are accepted')
  let sender: string
  try {
    sender = verifyEd25519PersonalMessage(body, signature)
  } catch (err) {
    throw new InvalidTransactionError(`signature does not verify: ${(err as Error).message}`)
  }
  return { payload: decodeTxBody(body), sender }
}
