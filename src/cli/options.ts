import { readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from 'commander'

export const DEFAULT_WALRUS_PORT = 31415
export const DEFAULT_WALRUS_URL = `http://127.0.0.1:${DEFAULT_WALRUS_PORT}`
export const DEFAULT_LEDGER_PORT = 31416
export const DEFAULT_LEDGER_URL = `http://127.0.0.1:${DEFAULT_LEDGER_PORT}`

/** herd's home: `$HERD_HOME`, else `~/.herd`. */
export function herdHome (): string {
  return process.env.HERD_HOME ?? join(homedir(), '.herd')
}

export function integer (name: string, min: number, max: number = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number, got "${value}"`)
    const n = Number(value)
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be from ${min} to ${max}, got ${n}`)
    return n
  }
}

export function fraction (name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number from 0 to 1, got "${value}"`)
    return n
  }
}

export function httpUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`"${value}" must be an http or https URL`)
  return value.replace(/\/+$/, '')
}

export function byteRange (value: string): { start: number, end: number } {
  const match = /^(\d+)-(\d+)$/.exec(value)
  if (match == null || Number(match[1]) > Number(match[2])) throw new InvalidArgumentError(`range must be START-END with START <= END (inclusive), got "${value}"`)
  return { start: Number(match[1]), end: Number(match[2]) }
}

/** One JSON line on stdout, for scripts. */
export function printJson (value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 }

/** A size such as `512MiB`, `20GB` or a plain number of bytes. */
export function byteSize (name: string): (value: string) => number {
  return (value: string) => {
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
    const unit = BYTE_UNITS[(match?.[2] ?? '').toLowerCase()]
    if (match == null || unit == null) throw new InvalidArgumentError(`${name} must be a size such as 1048576, 512MiB or 20GB, got "${value}"`)
    const bytes = Math.floor(Number(match[1]) * unit)
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError(`${name} must be at least 1 byte, got "${value}"`)
    return bytes
  }
}

/** An API token that cannot be read or used. */
export class ApiTokenError extends Error {
  override readonly name = 'ApiTokenError'
}

/** A token file holds one token and perhaps a newline; anything larger is not one. */
const MAX_TOKEN_FILE_BYTES = 4096

/** The API token in a file (surrounding whitespace dropped); its syntax is checked where it is used. */
export async function readTokenFile (path: string): Promise<string> {
  let text: string
  try {
    if ((await stat(path)).size > MAX_TOKEN_FILE_BYTES) throw new Error(`larger than ${MAX_TOKEN_FILE_BYTES} bytes`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ApiTokenError(`cannot read the API token file ${path}: ${(err as Error).message}`)
  }
  const token = text.trim()
  if (token === '') throw new ApiTokenError(`the API token file ${path} is empty`)
  return token
}
