import { enable } from '@libp2p/logger'
import { InvalidArgumentError } from 'commander'
import { pino, type Logger } from 'pino'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export function logLevel (value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`)
  return value as LogLevel
}

export interface OperatorLogInit {
  level: LogLevel
  /** JSON lines (for machines) rather than plain lines (for a terminal). */
  json: boolean
  stdout?: NodeJS.WritableStream
  stderr?: NodeJS.WritableStream
}

/**
 * The log an operator reads. Both forms go through one pino logger, so
 * `--log-level` filters them alike: JSON lines as pino writes them (level
 * label, ISO time, the fields, `msg`), or, on a terminal, the time and the
 * message, warnings and errors on stderr.
 */
export function operatorLog (init: OperatorLogInit): Logger {
  const stdout = init.stdout ?? process.stdout
  const stderr = init.stderr ?? process.stderr
  const options = {
    level: init.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) }
  }
  // herd's own debug lines are @libp2p/logger ones (DEBUG=herd:*); --log-level debug turns them on without DEBUG.
  if ((init.level === 'debug' || init.level === 'trace') && process.env.DEBUG == null) enable('herd:*')
  if (init.json) return pino(options, { write: (line: string) => { stdout.write(line) } })
  return pino(options, { write: (line: string) => { plainLine(line, stdout, stderr) } })
}

function plainLine (line: string, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
  const record = JSON.parse(line) as { level: string, time: string, msg?: string }
  const time = record.time.slice(11, 19)
  const warning = record.level === 'warn' || record.level === 'error' || record.level === 'fatal'
  const text = `${time} ${warning ? `${record.level}: ` : ''}${record.msg ?? ''}\n`
  ;(warning ? stderr : stdout).write(text)
}
