/**
 * A node's event-loop delay while a peer sends it hostile streams on
 * /herd/blob/1.0.0, /herd/infer/1.0.0 and the DHT's /herd/kad/1.0.0: a length prefix that never ends
 * (1 MiB of 0xff), a length over the server's limit, a slowloris (a valid
 * length, then a byte every 100 ms), twice the streams the server takes from
 * one connection at once, and a valid length followed by garbage protobuf;
 * beside a baseline with no abuse, measured in the same run. The hostile peer
 * runs on its own thread, so the delay is the node's. Each kind gets the same
 * window (1 s quick, 3.5 s full); `rejectedAfterMs` is when the server ended
 * the last of its streams, null if one was still open when the window ended
 * (a slowloris lasts until the server's read timeout, 20 s on blob, 30 s on
 * infer and 10 s on the DHT, longer than any window here). Then the same
 * 1 MiB of 0xff from a TCP client before any encryption, and as a peer's
 * answer to the node's identify request. Prints nothing: the caller prints the rows.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { probeEventLoop } from '../../harness/event-loop-probe.js'
import { HostilePeer } from '../../harness/hostile-peer.js'
import { ABUSE_KINDS, CONNECTION_ABUSES, HOSTILE_PROTOCOLS, type HostileOutcome } from '../../harness/hostile-stream.js'
import { quickNodeConfig, startDevnet, startNode, stopNodes } from '../../harness/in-process-mesh.js'

export interface HostileStreamRow {
  protocol: string
  abuse: string
  maxEventLoopDelayMs: number
  p99EventLoopDelayMs: number
  rejectedAfterMs: number | null
}

export async function hostileStreams (options: { quick: boolean }): Promise<HostileStreamRow[]> {
  const windowMs = options.quick ? 1_000 : 3_500
  const dir = await mkdtemp(join(tmpdir(), 'herd-bench-hostile-'))
  const devnet = await startDevnet(join(dir, 'devnet'))
  try {
    const node = await startNode(quickNodeConfig(join(dir, 'node'), devnet))
    try {
      const attacker = await HostilePeer.start(node)
      try {
        const rows: HostileStreamRow[] = []
        /** One row: the abuse's outcomes and the event loop over the same window for every row, however soon its streams ended. */
        const measure = async (protocol: string, abuse: string, run: () => Promise<HostileOutcome[]>): Promise<void> => {
          const probe = probeEventLoop()
          const started = performance.now()
          const outcomes = await run()
          await sleep(Math.max(0, windowMs - (performance.now() - started)))
          const loop = probe.stop()
          const ends = outcomes.map(outcome => outcome.afterMs)
          rows.push({
            protocol,
            abuse,
            maxEventLoopDelayMs: loop.maxMs,
            p99EventLoopDelayMs: loop.p99Ms,
            rejectedAfterMs: ends.length === 0 || ends.includes(null) ? null : Math.max(...ends as number[])
          })
        }
        for (const protocol of HOSTILE_PROTOCOLS) {
          for (const kind of ABUSE_KINDS) {
            await measure(protocol, kind, async () => kind === 'none' ? [] : attacker.run({ kind, protocol, waitMs: windowMs }))
          }
        }
        for (const kind of CONNECTION_ABUSES) {
          await measure(kind === 'before-encryption' ? 'TCP, before encryption' : '/ipfs/id/1.0.0, its answer', 'endless-varint', async () => attacker.run({ kind, waitMs: windowMs }))
        }
        return rows
      } finally {
        await attacker.stop()
      }
    } finally {
      await stopNodes([node])
    }
  } finally {
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
