/**
 * The command line of a benchmark or a harness script (sim's sampler). A
 * benchmark runs for minutes and loads the machine, so a mistyped option or
 * a value out of range has to stop it before any work starts, and say so in
 * one line a person reads (the option, the value, what it takes) with the
 * usage under it, not a stack trace: exit 2, as the shell's own tools do.
 * `--help` prints the usage on stdout and exits 0.
 */
import { mkdirSync } from 'node:fs'
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'

/** The option every script takes, beside its own. */
const HELP = { help: { type: 'boolean', short: 'h' } } as const

/** Strict and without positionals: a mistyped option, or a value given without its option, is refused rather than read as something else. */
type ScriptArgsConfig<O extends ParseArgsOptionsConfig> = { options: O & typeof HELP, strict: true, allowPositionals: false }

/** A script's options as parseArgs types them: a string option with a default is a string, one without may be undefined. */
export type ScriptValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<ScriptArgsConfig<O>>>['values']

export interface ScriptArgs<O extends ParseArgsOptionsConfig> {
  values: ScriptValues<O>
  /**
   * Stops the script over one of its own checks: `problem` (which option,
   * the value it got, what it takes) and the usage on stderr, exit 2.
   */
  refuse: (problem: string) => never
  /**
   * Makes `dir`, where the option `option` puts the script's output, now
   * rather than when the first file is written minutes in; stops the script
   * as `refuse` does if it cannot be made.
   */
  makeDir: (option: string, dir: string) => void
}

/**
 * The command line of the script `name` (the prefix of its error lines),
 * parsed against `options`; `usage` lists every option with its range. Does
 * not return on `--help` or on an option parseArgs refuses.
 */
export function parseScriptArgs<O extends ParseArgsOptionsConfig> (name: string, usage: string, options: O): ScriptArgs<O> {
  function refuse (problem: string): never {
    console.error(`${name}: ${problem}\n\n${usage}`)
    process.exit(2)
  }
  function makeDir (option: string, dir: string): void {
    try {
      mkdirSync(dir, { recursive: true })
    } catch (err) {
      refuse(`${option}: the directory ${JSON.stringify(dir)} cannot be made: ${(err as Error).message}`)
    }
  }
  let values: ScriptValues<O>
  try {
    values = parseArgs<ScriptArgsConfig<O>>({ options: { ...options, ...HELP }, strict: true, allowPositionals: false }).values
  } catch (err) {
    // Only the command line's own errors are the user's; anything else (an option declared wrong) is the script's, and keeps its stack.
    if (isParseArgsError(err)) refuse(err.message)
    throw err
  }
  // Inside this function O is not known yet, so parseArgs' type of `values` has no `help` to name: it is HELP's, a boolean or absent.
  if ((values as { help?: boolean }).help === true) {
    console.log(usage)
    process.exit(0)
  }
  return { values, refuse, makeDir }
}

/** parseArgs' errors about the arguments it was given (an unknown option, a missing value, a positional), as against its configuration. */
function isParseArgsError (err: unknown): err is TypeError {
  return err instanceof TypeError && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS_')
}
