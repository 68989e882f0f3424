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

