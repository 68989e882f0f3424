import { setFlagsFromString } from 'node:v8'

/**
 * The V8 flags a herd node's process runs with. Every launcher passes them:
 * ./herd and deploy/ through NODE_OPTIONS (an operator's own NODE_OPTIONS
 * come after them and win), the simulation's nodes and the benchmarks' node
 * processes on the command line; test/cli/v8-flags.test.ts checks each.
 *
 * Young generation capped at 4 MiB semi-spaces. V8 grows them up to 64 MiB on
 * a host with this much memory, and a node moving blobs allocates little on
 * the JS heap but a fresh ArrayBuffer for every socket read and every Noise
 * frame it seals or opens. Those die young, yet their memory goes back only
 * when a scavenge runs: with large semi-spaces a scavenge came every few
 * dozen MiB moved, the external memory piled up meanwhile and set off a full
 * mark of the whole heap (about every 16 MiB in a peer fetch). A peer fetch
 * of 256 MiB between two node processes cost 15.1-15.3 CPU-seconds per GiB
 * at both ends with V8's default, 10.2-12.9 with this cap (bench:mesh,
 * docs/swarm.md); the inference benchmark did not get slower.
 */
export const HERD_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4']


/**
 * V8 flags Node does not take in NODE_OPTIONS: each herd process sets them on
 * itself as it starts (applyHerdV8RuntimeFlags: the CLI, so ./herd, deploy/
 * and the simulation's nodes), and the benchmarks pass them on the command
 * line (test/cli/v8-flags.test.ts checks both).
 *
 * The old generation grows to twice what the last full collection kept
 * before the next one. V8 sizes that room by how fast the process allocates,
 * and a node, which allocates little on the JS heap, got about one more
 * megabyte: a full collection of its whole heap (35-40 MiB) every few
 * hundred detection answers with their receipts, at 3-17 ms of the event
 * loop each. With this room a detection node with proofs on spent 503-510 µs
 * of event loop CPU an answer against 690-745, its collector 29-41 µs
 * against 88-112 (benchmarks/README.md, session 29). The cost is memory: up
 * to twice the live heap, tens of MiB on a node.
 */
export const HERD_V8_RUNTIME_FLAGS: readonly string[] = ['--heap-growing-percent=100']

/** The flag's name: `--name` of `--name=value`. */
const flagName = (flag: string): string => flag.split('=')[0] as string

/**
 * Sets HERD_V8_RUNTIME_FLAGS on this process (V8 reads them at each
 * collection), but not one Node's command line gives a value of its own.
 */
export function applyHerdV8RuntimeFlags (execArgv: readonly string[] = process.execArgv): string[] {
  const own = new Set(execArgv.map(flagName))
  const applied = HERD_V8_RUNTIME_FLAGS.filter(flag => !own.has(flagName(flag)))
  for (const flag of applied) setFlagsFromString(flag)
  return applied
}
