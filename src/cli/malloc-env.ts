/**
 * The glibc malloc settings a herd node's process runs with, as environment
 * variables: glibc reads them when the process starts, so every launcher sets
 * them (`./herd`, deploy/, the simulation's nodes, the benchmarks' node
 * processes) and an operator's own values win. test/cli/v8-flags.test.ts
 * checks each launcher.
 *
 * glibc hands a large freed block back to the kernel (an mmap of 128 KiB-32
 * MiB, its threshold moving with the sizes seen, or a heap's top past twice
 * that), and the next allocation as large faults in fresh pages the kernel
 * must zero. Loading an ONNX session allocates the model's weights several
 * times over and frees them when it is released or evicted, so a node that
 * loads models paid that on every load: a 7.4 MB model's load and release
 * took 19-20 ms of CPU (9.5-12 of it in the kernel) and faulted in 14 MiB,
 * against 8.7-9.4 ms (1 in the kernel) and no faults with these settings
 * (docs/operating.md, "Process settings"). Blocks up to 32 MiB now come from
 * malloc's heaps, and a heap keeps up to 64 MiB free at its top for the next
 * allocation: that much more resident memory per malloc arena at most.
 */
export const HERD_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024)
}

/** `env` with herd's malloc settings where it has none of its own. */
export function withMallocEnv (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env }
  for (const [name, value] of Object.entries(HERD_MALLOC_ENV)) out[name] ??= value
  return out
}
