/** The checkout's commit for a bench's results file; CONVSCOPE_BENCH_COMMIT for a copy outside git (e.g. `git archive` of a commit). */
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')

export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return process.env.CONVSCOPE_BENCH_COMMIT ?? 'unknown (not a git checkout)'
  }
}
