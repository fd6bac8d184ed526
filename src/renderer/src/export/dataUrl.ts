/**
 * A `data:` URL (what plotly's toImage returns) as bytes. Decoded here rather than fetched: the page's
 * Content-Security-Policy allows fetch() only from its own origin.
 */
export function dataUrlBytes(url: string): { type: string; bytes: Uint8Array } {
  const match = /^data:([^,;]*)((?:;[^,;]*)*),/.exec(url)
  if (!match) throw new Error('not a data: URL')
  const payload = url.slice(match[0].length)
  const type = match[1] || 'text/plain'
  if (match[2].split(';').includes('base64')) return { type, bytes: Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)) }
  return { type, bytes: new TextEncoder().encode(decodeURIComponent(payload)) }
}
