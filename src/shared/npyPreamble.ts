/**
 * The preamble of a NumPy .npy file (format 1.0): magic, version, header length and the header dict, padded
 * so the data starts at a multiple of 64 bytes; the same bytes as numpy.save (NumPy ≥ 1.24). Plain
 * Uint8Array, no Node Buffer, so the window (an npy download) and the engine (store/npy.ts) share it.
 */
const GROWTH_AXIS_MAX_DIGITS = 21
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY

/** `descr` as NumPy writes it: '<f4', '<f2', '<i4', '|u1'. */
export function npyPreamble(descr: string, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
  // Like NumPy ≥ 1.24: spare spaces so the first dimension can grow in place (appending rows), then
  // padding to 64 bytes.
  const spare = shape.length > 0 ? Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length) : 0
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }` + ' '.repeat(spare)
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1 // + "\n"
  const total = Math.ceil(unpadded / 64) * 64
  if (total - 10 > 0xffff) throw new Error(`npy header too long for format 1.0 (shape ${dims})`)
  const out = new Uint8Array(total).fill(0x20)
  out.set(MAGIC, 0)
  out[6] = 1 // major version
  out[7] = 0 // minor version
  out[8] = (total - 10) & 0xff // header length, little-endian uint16
  out[9] = (total - 10) >> 8
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i) & 0xff // latin1
  out[total - 1] = 0x0a
  return out
}
