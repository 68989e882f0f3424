/**
 * Live mode on real links: when the scenario asks for namespaces, the devnet
 * and every node run in their own network namespace, their links capped with
 * tc (harness/netns.ts), so requests see real link limits and not only a
 * shaped origin.
 */
import { cleanLeftovers, createSwarm, netnsUnavailable, removeSwarm } from '../harness/netns.js'
import type { LiveNamespaces } from './live-cluster.js'
import { LiveScenarioError } from './live-setup.js'
import type { Scenario } from './scenario.js'

export interface LiveLinks {
  namespaces: LiveNamespaces
  /** Deletes the namespaces: after the cluster has stopped. */
  remove: () => Promise<void>
}

/** The namespaces of a run, or undefined when the scenario wants none; a LiveScenarioError where they cannot be made. */
export async function createLiveLinks (scenario: Scenario, nodes: number, signal: AbortSignal): Promise<LiveLinks | undefined> {
  const links = scenario.links
  if (links?.namespaces !== true) return undefined
  const unavailable = await netnsUnavailable()
  if (unavailable != null) throw new LiveScenarioError(`${scenario.name} asks for links.namespaces, but ${unavailable}`)
  await cleanLeftovers()
  const swarm = await createSwarm([
    { name: 'origin', capBytesPerSec: links.originCapBytesPerSec ?? 0 },
    ...Array.from({ length: nodes }, (_, i) => ({ name: `n${i}`, capBytesPerSec: links.nodeCapBytesPerSec ?? 0 }))
  ], { signal, ...(links.queue != null ? { linkQueue: links.queue } : {}) })
  return {
    namespaces: { origin: swarm.endpoint('origin'), nodes: Array.from({ length: nodes }, (_, i) => swarm.endpoint(`n${i}`)) },
    remove: async () => { await removeSwarm(swarm) }
  }
}
