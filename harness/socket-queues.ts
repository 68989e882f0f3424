/**
 * What each node's TCP sockets hold while a pull runs, read with `ss` in
 * the node's namespace: the bytes written to a socket and not yet sent
 * (held back by TCP's windows), the bytes sent or not that await an
 * acknowledgement, and the kernel's smoothed round trip of each connection.
 * A link's `tc` counters show how full it ran; these show where the queue in
 * front of it sits, so what else a node sends on a connection (its chunk
 * requests, the window updates of its downloads) waits behind (docs/swarm.md,
 * session 18). One command per node a sample, so only when asked for.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { percentileOfSorted, sortedSamples } from '../sim/percentiles.js'
import { sampleEvery } from './sample-every.js'

const run = promisify(execFile)

/** One `ss` may take this long on a starved machine before the node's part of the sample is left empty. */
const COMMAND_TIMEOUT_MS = 5_000

export interface SocketQueues {
  /** Bytes written and not yet sent, all the node's connections together. */
  unsent: number
  /** Bytes not yet acknowledged (Send-Q: those sent and those not), all together. */
  queued: number
  /** The kernel's smoothed round trip of each connection that has one, ms. */
  roundTripsMs: number[]
}

export interface SocketSample {
  /** When, in ms of `performance.now()`. */
  at: number
  /** By node, in the order the namespaces were given; undefined where `ss` could not be read. */
  nodes: Array<SocketQueues | undefined>
}

/**
 * Reads `ss -tniH state established` output: a line per socket (Recv-Q,
 * Send-Q, local and peer address) and its details on the indented line
 * after. Only connections to `peerAddress` addresses count (the swarm's own
 * links, not the API forwarder's loopback).
 */
export function parseSocketQueues (ssOutput: string, peerAddress: (address: string) => boolean): SocketQueues {
  const queues: SocketQueues = { unsent: 0, queued: 0, roundTripsMs: [] }
  let counted = false
  for (const line of ssOutput.split('\n')) {
    if (line.trim() === '') continue
    if (!/^\s/.test(line)) {
      const [, sendQ, , peer] = line.trim().split(/\s+/)
      const host = peer?.slice(0, peer.lastIndexOf(':')) ?? ''
      counted = sendQ != null && peerAddress(host)
      if (counted) queues.queued += Number(sendQ) || 0
      continue
    }
    if (!counted) continue
    const notsent = /\bnotsent:(\d+)/.exec(line)
    if (notsent != null) queues.unsent += Number(notsent[1])
    const rtt = /\brtt:([\d.]+)\//.exec(line)
    if (rtt != null) queues.roundTripsMs.push(Number(rtt[1]))
  }
  return queues
}

async function sampleNode (netns: string, peerAddress: (address: string) => boolean, signal: AbortSignal): Promise<SocketQueues | undefined> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', netns, 'ss', '-tniH', 'state', 'established'], { timeout: COMMAND_TIMEOUT_MS, signal, maxBuffer: 4 * 1024 * 1024 })
    return parseSocketQueues(stdout, peerAddress)
  } catch {
    return undefined
  }
}

/** Samples every node's sockets every `periodMs` until the signal aborts, then resolves with the samples. */
export async function sampleSocketQueues (namespaces: readonly string[], options: { periodMs: number, peerAddress: (address: string) => boolean, signal: AbortSignal }): Promise<SocketSample[]> {
  return await sampleEvery(options.periodMs, options.signal, async () => {
    const at = performance.now()
    const nodes = await Promise.all(namespaces.map(async ns => await sampleNode(ns, options.peerAddress, options.signal)))
    // A round the abort cut short read nothing worth keeping.
    return options.signal.aborted ? undefined : { at, nodes }
  })
}

export interface SocketUse {
  samples: number
  /** Over every node's samples in the time: the median and the most of its unsent bytes, and the median of its unacknowledged. */
  unsentMedian: number
  unsentMost: number
  queuedMedian: number
  /** The median of every connection's smoothed round trip over the samples, ms. */
  roundTripMedianMs: number
}

/** The sockets' figures over the samples from `from` to `to` (ms of performance.now()); undefined if none fell in it. */
export function socketUse (samples: readonly SocketSample[], from: number, to: number): SocketUse | undefined {
  const read = samples.filter(s => s.at >= from && s.at <= to).flatMap(s => s.nodes.filter((n): n is SocketQueues => n != null))
  if (read.length === 0) return undefined
  const unsent = read.map(n => n.unsent)
  const roundTrips = read.flatMap(n => n.roundTripsMs)
  return {
    samples: read.length,
    unsentMedian: median(unsent),
    unsentMost: Math.max(...unsent),
    queuedMedian: median(read.map(n => n.queued)),
    roundTripMedianMs: roundTrips.length > 0 ? median(roundTrips) : 0
  }
}

function median (values: readonly number[]): number {
  return percentileOfSorted(sortedSamples(values), 50)
}
