/** Export file names: `<model>-<view>-<what>.<ext>`, each part reduced to characters every file system takes. */

const slug = (part: string): string =>
  part
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')

export function figureFileName(parts: { model?: string | null; view?: string | null; what: string }, extension: 'png' | 'svg' | 'csv'): string {
  const name = [parts.model, parts.view, parts.what]
    .filter((p): p is string => !!p)
    .map(slug)
    .filter(Boolean)
    .join('-')
  return `${name || 'figure'}.${extension}`
}
