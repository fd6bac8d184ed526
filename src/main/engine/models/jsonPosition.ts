/**
 * Where a JSON text goes wrong. V8's JSON.parse messages give a position only for some errors
 * ("Unexpected token ',', ..."x": ,"... is not valid JSON" has none), so on failure we rescan the text
 * with a small strict checker to find the first bad character, and say it as line and column.
 */

/** Offset of the first character where `text` stops being JSON, or null if it is valid. */
export function jsonErrorOffset(text: string): number | null {
  let i = 0
  const fail = (): never => {
    throw new JsonStop(i)
  }
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  }
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail()
      i++
    }
  }
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
  const string = () => {
    i++ // opening quote
    for (;;) {
      if (i >= text.length) fail()
      const ch = text[i]!
      if (ch === '"') {
        i++
        return
      }
      if (ch === '\\') {
        i++
        const esc = text[i]
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail()
          i += 5
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i++
        else fail()
      } else if (ch < ' ') fail()
      else i++
    }
  }
  const value = (): void => {
    ws()
    const ch = text[i]
    if (ch === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        if (text[i] !== '"') fail()
        string()
        ws()
        if (text[i] !== ':') fail()
        i++
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === '}') return void i++
        else fail()
      }
    }
    if (ch === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (text[i] === ',') i++
        else if (text[i] === ']') return void i++
        else fail()
      }
    }
    if (ch === '"') return string()
    if (ch === 't') return literal('true')
    if (ch === 'f') return literal('false')
    if (ch === 'n') return literal('null')
    number.lastIndex = i
    if (!number.test(text)) fail()
    i = number.lastIndex
  }
  try {
    value()
    ws()
    if (i < text.length) fail()
    return null
  } catch (e) {
    if (e instanceof JsonStop) return e.offset
    throw e
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/** "line L, column C" (1-based) of an offset; "end of file" past the end. */
export function lineAndColumn(text: string, offset: number): string {
  if (offset >= text.length) return `end of file (after ${text.length} characters: truncated?)`
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `line ${line}, column ${column}`
}

/** JSON.parse's message plus where the error is. */
export function describeJsonError(e: Error, text: string): string {
  const offset = jsonErrorOffset(text)
  return offset === null ? e.message : `${e.message} (at ${lineAndColumn(text, offset)})`
}
