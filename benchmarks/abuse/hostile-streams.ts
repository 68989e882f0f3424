/**
 * A node's event-loop delay while a peer sends it hostile streams on
 * /herd/blob/1.0.0 and /herd/infer/1.0.0: a length prefix that never ends
 * (1 MiB of 0xff), a length over the server's limit, a slowloris (a valid
 * length, then a byte every 100 ms), twice the streams the server takes from
 * one connection at once, and a valid length followed by garbage protobuf;
 * beside a baseline with no abuse, measured in the same run. The hostile peer
 * runs on its own thread, so the delay is the node's. Each kind gets the same
 * window (1 s quick, 3.5 s full); `rejectedAfterMs` is when the server ended
 * the last of its streams, null if one was still open when the window ended
 * (a slowloris lasts until the server's read timeout, 20 s on blob and 30 s on
 * infer, longer than any window here). Prints nothing: the caller prints the rows.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { probeEventLoop } from '../../harness/event-loop-probe.js'
import { HostilePeer } from '../../harness/hostile-peer.js'
import { ABUSE_KINDS, HOSTILE_PROTOCOLS } from '../../harness/hostile-stream.js'
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
        for (const protocol of HOSTILE_PROTOCOLS) {
          for (const kind of ABUSE_KINDS) {
            const probe = probeEventLoop()
            const started = performance.now()
            const outcomes = kind === 'none' ? [] : await attacker.run({ kind, protocol, waitMs: windowMs })
            // Every row covers the same stretch of time, however soon its streams ended.
            await sleep(Math.max(0, windowMs - (performance.now() - started)))
            const loop = probe.stop()
            const ends = outcomes.map(outcome => outcome.afterMs)
            rows.push({
              protocol,
              abuse: kind,
              maxEventLoopDelayMs: loop.maxMs,
              p99EventLoopDelayMs: loop.p99Ms,
              rejectedAfterMs: ends.length === 0 || ends.includes(null) ? null : Math.max(...ends as number[])
            })
          }
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
