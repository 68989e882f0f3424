import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { describe, it } from 'node:test'
import { HttpLedger } from '../../src/chain/http-ledger.js'

/** A stand-in for whatever sits at the ledger's URL, counting the requests that reach it. */
async function serve (answer: (res: import('node:http').ServerResponse) => void): Promise<{ server: Server, url: string, requests: string[] }> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    answer(res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests }
}

async function close (server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
}

describe('HttpLedger against bad references and a ledger that is down', () => {
  it('refuses dot segments and malformed model references before any request', async () => {
    const { server, url, requests } = await serve(res => { res.end('{}') })
    const ledger = new HttpLedger({ url, retries: 0 })
    try {
      for (const ref of ['..', '.', '', 'a'.repeat(129), 'a/../../v1/head', 'mlp@..']) {
        await assert.rejects(ledger.getModel(ref), { name: 'InvalidModelRefError' }, ref.slice(0, 20))
      }
      await assert.rejects(ledger.getAnchor('..'), { name: 'InvalidTransactionError' })
      await assert.rejects(ledger.listAnchors('.'), { name: 'InvalidTransactionError' })
      assert.deepEqual(requests, [])
    } finally {
      await ledger.close()
      await close(server)
    }
  })

  it('reports a 5xx in HTML (a proxy before a ledger that is down) and a refused connection as RetryableLedgerError', async () => {
    const { server, url } = await serve(res => {
      res.writeHead(502, { 'content-type': 'text/html' })
      res.end('<html><body>502 Bad Gateway</body></html>')
    })
    const ledger = new HttpLedger({ url, retries: 0 })
    try {
      await assert.rejects(ledger.getModel('mlp'), { name: 'RetryableLedgerError' })
    } finally {
      await ledger.close()
      await close(server)
    }
    // The same port, now closed: nothing listens.
    const down = new HttpLedger({ url, retries: 0 })
    try {
      await assert.rejects(down.getModel('mlp'), (err: Error) => err.name === 'RetryableLedgerError' && /unreachable/.test(err.message))
    } finally {
      await down.close()
    }
  })
})
