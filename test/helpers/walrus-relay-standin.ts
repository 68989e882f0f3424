import { createServer, type IncomingMessage, type Server } from 'node:http'

/** One request as the relay received it. */
export interface RelayRequest { method: string, path: string, query: Record<string, string>, body: Buffer }

export interface RelayStandInOptions {
  /** The tip the relay asks (`/v1/tip-config`); no tip when unset. */
  tip?: { address: string, base: number, perEncodedKib: number }
  /** Checks the uploaded bytes against the blob ID in the query; a mismatch is a 400, as the relay refuses it. */
  blobIdOf?: (bytes: Uint8Array) => Promise<string>
}

/**
 * A Walrus upload relay on loopback, speaking the relay's HTTP API as the
 * Walrus operator guide documents it: `GET /v1/tip-config` (`"no_tip"` or
 * `{ send_tip: { address, kind: { linear: { base, encoded_size_mul_per_kib } } } }`)
 * and `POST /v1/blob-upload-relay?blob_id=&tx_id=&nonce=&deletable_blob_object=&encoding_type=`
 * with the blob as the body, answered with a confirmation certificate. It
 * stores nothing and talks to no storage node: the certificate is made up.
 */
export class RelayStandIn {
  readonly requests: RelayRequest[] = []
  private readonly server: Server
  private readonly options: RelayStandInOptions

  constructor (options: RelayStandInOptions = {}) {
    this.options = options
    this.server = createServer((req, res) => {
      this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      }, (err: Error) => { res.writeHead(500).end(err.message) })
    })
  }

  async start (): Promise<string> {
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
  }

  private async handle (req: IncomingMessage): Promise<{ status: number, body: unknown }> {
    const url = new URL(req.url ?? '/', 'http://relay')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const request: RelayRequest = { method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), body: Buffer.concat(chunks) }
    this.requests.push(request)
    if (request.method === 'GET' && request.path === '/v1/tip-config') {
      const tip = this.options.tip
      return { status: 200, body: tip == null ? 'no_tip' : { send_tip: { address: tip.address, kind: { linear: { base: tip.base, encoded_size_mul_per_kib: tip.perEncodedKib } } } } }
    }
    if (request.method === 'POST' && request.path === '/v1/blob-upload-relay') {
      const blobId = request.query.blob_id
      if (blobId == null) return { status: 400, body: { error: { status: 'INVALID_ARGUMENT', message: 'blob_id is required' } } }
      if (this.options.tip != null && (request.query.tx_id == null || request.query.nonce == null)) return { status: 402, body: { error: { status: 'FAILED_PRECONDITION', message: 'a tip is required: tx_id and nonce' } } }
      if (this.options.blobIdOf != null && await this.options.blobIdOf(request.body) !== blobId) return { status: 400, body: { error: { status: 'INVALID_ARGUMENT', message: 'the body does not encode to blob_id' } } }
      return { status: 200, body: { blob_id: blobId, confirmation_certificate: { signers: [0, 1, 2], serialized_message: [1, 0, 3, 5, 7], signature: 'c2lnbmF0dXJl' } } }
    }
    return { status: 404, body: { error: { status: 'NOT_FOUND', message: `${request.method} ${request.path}` } } }
  }
}
