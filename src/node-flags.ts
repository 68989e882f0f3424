/**
 * The V8 flags every herd node process runs with: each launcher (./herd,
 * npm start, deploy/herd.service, deploy/Dockerfile, the simulator's live
 * nodes, the benchmarks) passes them, and test/cli/node-flags.test.ts holds
 * them to it.
 *
 * `--no-memory-reducer`: a node's event loop mostly waits on its inference
 * threads and sockets, which V8's memory reducer takes for idleness: under
 * load it ran a full mark of the heap every second or so (14 to 40 in a run
 * of 3,000 detection answers, against none without it: a tenth of the
 * process's CPU). A server keeps its heap at its working size instead.
 */
export const NODE_FLAGS = ['--no-memory-reducer'] as const
