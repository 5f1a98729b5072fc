/**
 * Minimal HTTP/1.1 response reader for raw sockets: status line, headers and
 * a Content-Length (or, defensively, chunked) body. Enough to know when a
 * response has fully arrived and whether it said `Connection: close`.
 */

export interface WireResponse {
  readonly status: number
  readonly close: boolean
}

export const HEALTHZ_REQUEST = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

const HEAD_END = Buffer.from("\r\n\r\n")
const CHUNKED_END = Buffer.from("0\r\n\r\n")

/** Returns a `feed` that takes socket chunks and yields complete responses. */
export const responseReader = (): ((chunk: Buffer) => Array<WireResponse>) => {
  let buf: Buffer = Buffer.alloc(0)
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    const out: Array<WireResponse> = []
    for (;;) {
      const headEnd = buf.indexOf(HEAD_END)
      if (headEnd < 0) break
      const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n")
      const status = Number(lines[0]?.split(" ")[1] ?? 0)
      let length = 0
      let chunked = false
      let close = false
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":")
        const name = line.slice(0, colon).trim().toLowerCase()
        const value = line
          .slice(colon + 1)
          .trim()
          .toLowerCase()
        if (name === "content-length") length = Number(value)
        else if (name === "transfer-encoding") chunked = value.includes("chunked")
        else if (name === "connection") close = value.includes("close")
      }
      const bodyStart = headEnd + HEAD_END.length
      let end: number
      if (chunked) {
        const term = buf.indexOf(CHUNKED_END, bodyStart)
        if (term < 0) break
        end = term + CHUNKED_END.length
      } else {
        end = bodyStart + length
        if (buf.length < end) break
      }
      buf = buf.subarray(end)
      out.push({ status, close })
    }
    return out
  }
}
