/**
 * A benchmark's command line. A benchmark runs for minutes and loads the
 * machine, so a mistyped option or a value out of range has to stop it
 * before any work starts, and say so in one line a person reads (the
 * option, the value, what it takes) with the usage under it, not a stack
 * trace: exit 2, as the shell's own tools do. `--help` prints the usage
 * on stdout and exits 0.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'

/** The option every benchmark takes, beside its own. */
const HELP = { help: { type: 'boolean', short: 'h' } } as const

/** Strict and without positionals: a mistyped option, or a value given without its option, is refused rather than read as something else. */
type BenchmarkArgsConfig<O extends ParseArgsOptionsConfig> = { options: O & typeof HELP, strict: true, allowPositionals: false }

/** A benchmark's options as parseArgs types them: a string option with a default is a string, one without may be undefined. */
export type BenchmarkValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<BenchmarkArgsConfig<O>>>['values']

export interface BenchmarkArgs<O extends ParseArgsOptionsConfig> {
  values: BenchmarkValues<O>
  /**
   * Stops the benchmark over one of its own checks: `problem` (which option,
   * the value it got, what it takes) and the usage on stderr, exit 2.
   */
  refuse: (problem: string) => never
}

/**
 * The command line of the benchmark `name` (the prefix of its error lines),
 * parsed against `options`; `usage` lists every option with its range. Does
 * not return on `--help` or on an option parseArgs refuses.
 */
export function parseBenchmarkArgs<O extends ParseArgsOptionsConfig> (name: string, usage: string, options: O): BenchmarkArgs<O> {
  function refuse (problem: string): never {
    console.error(`${name}: ${problem}\n\n${usage}`)
    process.exit(2)
  }
  let values: BenchmarkValues<O>
  try {
    values = parseArgs<BenchmarkArgsConfig<O>>({ options: { ...options, ...HELP }, strict: true, allowPositionals: false }).values
  } catch (err) {
    // Only the command line's own errors are the user's; anything else (an option declared wrong) is the benchmark's, and keeps its stack.
    if (isParseArgsError(err)) refuse(err.message)
    throw err
  }
  // Inside this function O is not known yet, so parseArgs' type of `values` has no `help` to name: it is HELP's, a boolean or absent.
  if ((values as { help?: boolean }).help === true) {
    console.log(usage)
    process.exit(0)
  }
  return { values, refuse }
}

/** parseArgs' errors about the arguments it was given (an unknown option, a missing value, a positional), as against its configuration. */
function isParseArgsError (err: unknown): err is TypeError {
  return err instanceof TypeError && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS_')
}
