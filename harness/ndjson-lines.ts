/** Calls `onLine` with each line of an NDJSON response body as it arrives, the last one (without its newline) included. */
export async function forEachLine (body: AsyncIterable<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const piece of body) {
    buffered += decoder.decode(piece, { stream: true })
    let newline
    while ((newline = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
    }
  }
  onLine(buffered + decoder.decode())
}
