import type { ChildProcess } from 'node:child_process'

/**
 * Waits for `convscope serve`'s "serving at URL" line on a spawned child's stdout or stderr. `output()` is all the
 * child has printed so far (for assertion messages); `url` fails when the child exits first or after `timeoutMs`.
 */
export function servingUrl(child: ChildProcess, timeoutMs = 90_000): { url: Promise<string>; output: () => string } {
  let output = ''
  const url = new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`convscope serve printed no URL within ${timeoutMs / 1000} s:\n${output}`)), timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /convscope: serving at (http:\/\/\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        done(match[1]!)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      fail(new Error(`convscope serve exited (${code ?? signal}) before serving:\n${output}`))
    })
  })
  return { url, output: () => output }
}
