import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { LocalWalrus, type LocalWalrusInit } from '../../src/walrus/local/server.js'

export const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url))

export async function tempDir (prefix = 'herd-test-'): Promise<{ path: string, [Symbol.asyncDispose]: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, [Symbol.asyncDispose]: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** An in-process local Walrus with few shards: IDs differ from mainnet's, which these tests do not check. */
export async function startLocalWalrus (dir: string, init: Partial<LocalWalrusInit> = {}): Promise<LocalWalrus> {
  const walrus = new LocalWalrus({ dir, nShards: 10, ...init })
  await walrus.start()
  return walrus
}

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs the herd CLI to completion with a time limit. */
export async function runCli (args: string[], options: { timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`herd ${args.join(' ')} timed out`)) }, options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export interface Spawned {
  child: ChildProcess
  ready: Record<string, any>
  lines: string[]
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Starts a long-running herd command and waits for its ready line. */
export async function spawnCli (args: string[], timeoutMs = 30_000): Promise<Spawned> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const lines: string[] = []
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
  const ready = await new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`herd ${args.join(' ')} not ready: ${stderr}`)) }, timeoutMs)
    createInterface({ input: child.stdout! }).on('line', line => {
      lines.push(line)
      try {
        const event = JSON.parse(line)
        if (event.event === 'ready') { clearTimeout(timer); resolve(event) }
      } catch {}
    })
    void exited.then(code => { clearTimeout(timer); reject(new Error(`herd ${args.join(' ')} exited with ${code}: ${stderr}`)) })
  })
  return {
    child,
    ready,
    lines,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode == null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
}
