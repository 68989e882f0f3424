import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/** A directory given for a command's output that the command could not write into. */
export class OutputDirError extends Error {
  override readonly name = 'OutputDirError'
}

/**
 * Checks, before a long run, that `path` can hold its output: it is a
 * writable directory, or the nearest part of it that exists is, so that it
 * can be made. Nothing is made here: a run refused for another reason
 * leaves nothing behind. Without this, `herd sim run --out` under a file ran
 * every node for minutes and then failed to write the report.
 */
export async function checkOutputDir (path: string, option: string): Promise<void> {
  const wanted = resolve(path)
  for (let at = wanted; ; at = dirname(at)) {
    try {
      const found = await stat(at)
      if (!found.isDirectory()) throw new OutputDirError(`${option} ${path}: ${at} is not a directory`)
      await access(at, constants.W_OK)
      return
    } catch (err) {
      if (err instanceof OutputDirError) throw err
      const code = (err as NodeJS.ErrnoException).code
      // Not there (or under something that is not a directory, found on the way up): the part above it decides.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(at) !== at) continue
      throw new OutputDirError(`${option} ${path}: ${at === wanted ? 'it' : at} cannot be written: ${(err as Error).message}`)
    }
  }
}
