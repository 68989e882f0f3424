/** A response body that can be read in chunks and dropped when it runs too long (undici's). */
export interface ReadableBody extends AsyncIterable<Uint8Array> {
  destroy: () => unknown
}

/**
 * A response body as text, read no further than `limit` bytes: past it the
 * body is dropped and the caller's own error (`tooLarge()`) thrown, so a
 * server that never stops sending cannot fill memory.
 */
export async function readBoundedText (body: ReadableBody, limit: number, tooLarge: () => Error): Promise<string> {
  const chunks: Uint8Array[] = []
  let bytes = 0
  for await (const chunk of body) {
    bytes += chunk.byteLength
    if (bytes > limit) {
      body.destroy()
      throw tooLarge()
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
