/**
 * A simulation scenario: mesh size, model catalog, cache quota, workload,
 * churn, and the network both modes imitate. One JSON file, checked with
 * zod (strict: an unknown or misspelt field is refused, and every error names
 * its field, as the node's config does).
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { originShapingSchema } from '../src/walrus/local/shaping.js'
import { DEFAULT_DOWNLOAD_TUNING } from '../src/mesh/fetcher.js'
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../src/blob/chunk-tree.js'
import { POLICY_NAMES, type PolicyName } from '../src/blob/cache/policy.js'
import { DEFAULT_POLICY } from '../src/blob/cache/constants.js'
import { LINK_QUEUES, MAX_CAP_BYTES_PER_SEC } from '../harness/netns.js'
import { MIN_UPLOAD_BYTES_PER_SEC } from '../src/mesh/upload-pace.js'

/** Live mode runs each node as its own process: more than this does not fit a small machine. */
export const MAX_LIVE_NODES = 32
/** The discrete-event model's ceiling. */
export const MAX_SCALE_NODES = 10_000
export const MAX_MODELS = 100_000
export const MAX_REQUESTS = 5_000_000

const MiB = 1024 * 1024

const positiveInt = z.number().int().min(1)
const bytes = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)

/** What scale mode assumes about the network. Defaults: a datacenter-ish mesh and a distant Walrus aggregator. */
export const networkSchema = z.strictObject({
  /** Download rate of one node from its peers (its own link is the limit, however many peers serve it). */
  peerBandwidthBytesPerSec: bytes.default(100 * MiB),
  /** Round trip to a peer: paid once per download. */
  peerRttMs: z.number().min(0).max(60_000).default(20),
  /** Download rate of one node from Walrus. */
  walrusBandwidthBytesPerSec: bytes.default(20 * MiB),
  /** Time to the first byte from Walrus: paid once per Walrus read. */
  walrusLatencyMs: z.number().min(0).max(600_000).default(200),
  /** The fetcher's wait after announcing `fetching` before its first Walrus read (nodes starting together split the reads). */
  coordinationMs: z.number().min(0).max(60_000).default(DEFAULT_DOWNLOAD_TUNING.coordinationMs),
  /** No chunk for this long and a download reads from Walrus whatever no peer holds (a source that left). */
  stallMs: z.number().min(0).max(600_000).default(DEFAULT_DOWNLOAD_TUNING.stallMs)
})

const NETWORK_DEFAULTS = networkSchema.parse({})

const cap = z.number().int().min(1).max(MAX_CAP_BYTES_PER_SEC)

/** Live mode: real links (harness/netns.ts). Each process in its own network namespace, its link capped with tc in both directions. */
export const linksSchema = z.strictObject({
  /** Run the devnet and every node in its own namespace (needs root, ip and tc; Linux). */
  namespaces: z.boolean(),
  /** Cap on each node's link, each way; absent: uncapped. */
  nodeCapBytesPerSec: cap.optional(),
  /** Cap on the devnet's link (Walrus and the ledger), each way; absent: uncapped. */
  originCapBytesPerSec: cap.optional(),
  /** How a capped link queues: one drop-tail FIFO (the default), or small packets (acknowledgements) first. */
  queue: z.enum(LINK_QUEUES).optional(),
  /** Each node's upload pace (mesh.uploadBytesPerSec), with or without namespaces; absent: none, a node's default. */
  uploadBytesPerSec: z.number().int().min(MIN_UPLOAD_BYTES_PER_SEC).max(MAX_CAP_BYTES_PER_SEC).optional()
}).superRefine((links, ctx) => {
  if (links.namespaces) return
  for (const field of ['nodeCapBytesPerSec', 'originCapBytesPerSec', 'queue'] as const) {
    if (links[field] != null) ctx.addIssue({ code: 'custom', path: [field], message: 'a link is capped only in its own namespace: set namespaces to true' })
  }
})

export const scenarioSchema = z.strictObject({
  /** Shown in reports. */
  name: z.string().min(1).max(200),
  /** Free text for whoever reads the file. */
  description: z.string().max(4000).optional(),
  /** Seeds everything random: model sizes, popularity, arrivals, churn. Same seed, same trace. */
  seed: z.number().int().min(0).max(0xffff_ffff),
  /** The mode the scenario is written for; live allows at most 32 nodes. Scale mode runs any scenario. */
  mode: z.enum(['live', 'scale']).default('live'),
  /** Nodes in the mesh. */
  nodes: positiveInt.max(MAX_SCALE_NODES),
  /** The catalog: `count` models with sizes log-uniform in [minBytes, maxBytes]. */
  models: z.strictObject({
    count: positiveInt.max(MAX_MODELS),
    minBytes: bytes,
    maxBytes: bytes,
    /** Chunk size the models are published with (`herd model push --chunk-size`): the unit cold downloaders split Walrus reads by. */
    chunkBytes: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE).default(DEFAULT_CHUNK_SIZE)
  }),
  /** Each node's cache: a byte quota, or a fraction of the catalog's total bytes (exactly one of the two). */
  cache: z.strictObject({
    quotaBytes: bytes.optional(),
    quotaFraction: z.number().gt(0).max(1).optional(),
    /** The eviction policy of src/blob/cache/policy.ts. */
    policy: z.enum(POLICY_NAMES).default(DEFAULT_POLICY)
  }),
  workload: z.strictObject({
    /** Requests across the whole mesh. */
    requests: positiveInt.max(MAX_REQUESTS),
    /** Poisson arrivals: mean requests per second across the mesh. */
    ratePerSec: z.number().gt(0).max(1_000_000),
    /** Zipf exponent s: the model of popularity rank r is asked for with probability ∝ 1 / r^s (0 is uniform). */
    zipf: z.number().min(0).max(5),
    /**
     * Share (0..1) of a node's requests drawn from its own permutation of
     * popularity rather than the mesh's: nodes in different regions like
     * different models. 0: every node follows the global ranking.
     */
    nodeSkew: z.number().min(0).max(1).default(0)
  }),
  /** Nodes leaving and coming back. Absent: no churn. */
  churn: z.strictObject({
    /** Leave events per minute across the mesh (Poisson); a leave picks a node that is up. */
    leavesPerMinute: z.number().min(0).max(100_000),
    /** Mean time a node stays away (exponentially distributed), ms. */
    meanDowntimeMs: z.number().gt(0).max(86_400_000),
    /** A node comes back with its cache (a restart) or empty (a new machine). */
    keepCache: z.boolean().default(true)
  }).optional(),
  /** Live mode: how the local Walrus imitates a distant origin (src/walrus/local/shaping.ts; bandwidth is per response, 0 uncapped). */
  origin: originShapingSchema.default({ latencyMs: 0, bandwidthBytesPerSec: 0, failureRate: 0 }),
  /** Scale mode: the network the model assumes. */
  network: networkSchema.default(NETWORK_DEFAULTS),
  /** Live mode: real, capped links between namespaces instead of one loopback. Absent: every process on loopback. Scale mode ignores it. */
  links: linksSchema.optional(),
  /** The points of the charts' sweeps. */
  sweep: z.strictObject({
    /** Cache quota as fractions of the catalog, for hit rate against cache size. */
    cacheFractions: z.array(z.number().gt(0).max(1)).min(1).max(32).default([0.02, 0.05, 0.1, 0.2, 0.4]),
    /** Mesh sizes, for Walrus egress against node count (the workload's request count stays the same). */
    nodeCounts: z.array(positiveInt.max(MAX_SCALE_NODES)).min(1).max(32).optional(),
    /** Eviction policies compared side by side at each cache fraction, in scale mode (sim/policy-sweep.ts). */
    policies: z.array(z.enum(POLICY_NAMES)).min(1).max(POLICY_NAMES.length).optional()
  }).optional()
}).superRefine((scenario, ctx) => {
  if (scenario.models.minBytes > scenario.models.maxBytes) {
    ctx.addIssue({ code: 'custom', path: ['models', 'maxBytes'], message: `must be at least models.minBytes (${scenario.models.minBytes})` })
  }
  if (scenario.mode === 'live' && scenario.nodes > MAX_LIVE_NODES) {
    ctx.addIssue({ code: 'custom', path: ['nodes'], message: `live mode runs at most ${MAX_LIVE_NODES} nodes (scale mode up to ${MAX_SCALE_NODES})` })
  }
  const policies = scenario.sweep?.policies ?? []
  policies.forEach((policy, i) => {
    if (policies.indexOf(policy) !== i) ctx.addIssue({ code: 'custom', path: ['sweep', 'policies', i], message: `"${policy}" is listed twice` })
  })
  if ((scenario.cache.quotaBytes == null) === (scenario.cache.quotaFraction == null)) {
    ctx.addIssue({ code: 'custom', path: ['cache'], message: 'give exactly one of quotaBytes and quotaFraction' })
  }
})

export type ScenarioInput = z.input<typeof scenarioSchema>
export type Scenario = z.output<typeof scenarioSchema>
export type NetworkModel = z.output<typeof networkSchema>

/** A scenario that is not valid: the message names each field and what was wrong with it. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError'
}

export function parseScenario (input: unknown, where = 'scenario'): Scenario {
  const result = scenarioSchema.safeParse(input)
  if (!result.success) {
    const problems = result.error.issues.map(issue => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    throw new ScenarioError(`${where} is not valid: ${problems.join('; ')}`)
  }
  return result.data
}

/** Reads and checks a scenario file. */
export async function loadScenario (path: string): Promise<Scenario> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ScenarioError(`scenario ${path} is not JSON: ${(err as Error).message}`)
  }
  return parseScenario(json, path)
}

/** Each node's cache quota in bytes, given the catalog's total. */
export function quotaBytesOf (scenario: Scenario, catalogBytes: number): number {
  if (scenario.cache.quotaBytes != null) return scenario.cache.quotaBytes
  return Math.max(1, Math.floor((scenario.cache.quotaFraction ?? 1) * catalogBytes))
}

/** The scenario with another eviction policy (for the policy sweep). */
export function withPolicy (scenario: Scenario, policy: PolicyName): Scenario {
  return { ...scenario, cache: { ...scenario.cache, policy } }
}

/** The scenario with its cache quota set to a fraction of the catalog (for sweeps). */
export function withCacheFraction (scenario: Scenario, fraction: number): Scenario {
  const cache = { ...scenario.cache, quotaFraction: fraction }
  delete cache.quotaBytes
  return { ...scenario, cache }
}
