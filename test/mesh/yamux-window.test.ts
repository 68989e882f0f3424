import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream, StreamMuxer } from '@libp2p/interface'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { sendWindowUpdatesAtHalfWindow } from '../../src/mesh/yamux-window.js'
import { waitFor } from '../helpers/mesh.js'

/** Yamux's frame type of a window update (frame.ts: Data 0, WindowUpdate 1). */
const WINDOW_UPDATE = 1

describe('yamux window updates', () => {
  it('a stream sends a window update once half its window is used, not after every frame, and bulk data still flows', async () => {
    sendWindowUpdatesAtHalfWindow()
    const [outbound, inbound] = multiaddrConnectionPair()
    const factory = yamux()()
    const client = factory.createStreamMuxer(outbound) as unknown as StreamMuxer & { sendFrame: (header: { type: number }, data?: unknown) => void }
    const server = factory.createStreamMuxer(inbound) as unknown as StreamMuxer & { sendFrame: (header: { type: number }, data?: unknown) => void }
    let serverUpdates = 0
    const sendFrame = server.sendFrame.bind(server)
    server.sendFrame = (header, data) => { if (header.type === WINDOW_UPDATE) serverUpdates++; sendFrame(header, data) }
    let received = 0
    let accepted: Stream | undefined
    server.addEventListener('stream', evt => {
      accepted = evt.detail
      accepted.addEventListener('message', m => { received += m.data.byteLength })
    })
    const stream = await client.createStream()
    try {
      // Twenty small messages, as twenty inference requests on a kept stream: one update (the ACK), not twenty-one.
      // Each waits for the one before to arrive, so each is a frame of its own (sends in one tick share a frame).
      for (let i = 1; i <= 20; i++) {
        stream.send(new Uint8Array(100))
        await waitFor('a small message', () => received === i * 100, 10_000, 1)
      }
      assert.ok(serverUpdates <= 1, `${serverUpdates} window updates for 2,000 bytes of a 256 KiB window`)
      // 4 MiB: many times the window, so the sender must be given more window again and again.
      for (let i = 0; i < 64; i++) if (!stream.send(new Uint8Array(64 * 1024))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
      await waitFor('4 MiB more', () => received === 2_000 + 4 * 1024 * 1024, 20_000, 5)
      assert.ok(serverUpdates > 1)
    } finally {
      await Promise.all([client.close(), server.close()]).catch(() => {})
    }
  })
})
