/**
 * `herd infer --peer`: one run asked of a node over libp2p, from a throwaway
 * node of this command's own. Apart from infer.ts, so `herd infer --api`
 * does not load libp2p.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { InferClient } from '../inference/infer-protocol.js'
import { tensorsFromJson, tensorsToJson } from '../inference/tensor-codec.js'
import { createMeshLibp2p } from '../mesh/libp2p.js'
import { receiptJson } from '../proof/receipt-json.js'

export interface PeerInferRequest {
  peer: string
  model: string
  /** The request's JSON: its `inputs` as `herd infer --input` reads them. */
  body: unknown
  deadlineMs?: number
  binary: boolean
}

export async function inferAtPeer (request: PeerInferRequest): Promise<unknown> {
  // Checked here so that a bad tensor is reported before any connection is made.
  const inputs = tensorsFromJson(request.body)
  const address = multiaddr(request.peer)
  const peerId = address.getComponents().find(c => c.name === 'p2p')?.value
  if (peerId == null) throw new Error('--peer must end in /p2p/PEER_ID')
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [], privateNetwork: true })
  await libp2p.start()
  try {
    const connection = await libp2p.dial(address, { signal: AbortSignal.timeout(10_000) })
    const client = new InferClient({ dialProtocol: async (peer, protocol, opts) => libp2p.dialProtocol(peer, protocol, opts) })
    const reply = await client.infer(connection.remotePeer, { model: request.model, inputs, ...(request.deadlineMs != null ? { deadlineMs: request.deadlineMs } : {}) }, { signal: AbortSignal.timeout(request.deadlineMs ?? 120_000) })
    return { outputs: tensorsToJson(reply.outputs, { binary: request.binary }), node: reply.node, modelBlobId: reply.modelBlobId, runMs: reply.runMs, receipt: reply.receipt != null ? receiptJson(reply.receipt) : null }
  } finally {
    await libp2p.stop()
  }
}
