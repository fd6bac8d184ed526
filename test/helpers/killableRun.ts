/**
 * Runs that a test kills with SIGKILL mid-way, for the resume tests of scans and codes runs (scan.test.ts,
 * codes.test.ts, scanWorkers.test.ts): watching a child process to its exit and killing it once a condition
 * holds, a runScan in a throttled child process, and where a run's checkpoint stands.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ScanOptions } from '../../src/main/engine/scan/runScan'
import { CHECKPOINT_FILE } from '../../src/main/engine/scan/manifest'

const ROOT = join(import.meta.dirname, '../..')

export interface ChildEnd {
  killed: boolean
  code: number | null
  stderr: string
  pid: number
}

export interface ChildWatch {
  /** Asked every 3 ms while the child runs (a rejection counts as false); the first true kills it, once. */
  killWhen?: () => Promise<boolean>
  /** How it is killed; default SIGKILL to the child. A throw is noted in stderr and counts as not killed. */
  kill?: (pid: number) => void
  /** A run still going after `ms` is stopped by `stop`, whose text joins stderr (a hang fails with what it did). */
  limit?: { ms: number; stop: (pid: number) => string }
}

/** Resolves when `child` (spawned with stderr piped) exits, with its stderr and whether `watch` killed it. */
export function watchChild(child: ChildProcess, watch: ChildWatch = {}): Promise<ChildEnd> {
  const kill = watch.kill ?? ((pid: number) => process.kill(pid, 'SIGKILL'))
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  let killed = false
  let timer: NodeJS.Timeout | undefined
  const { killWhen } = watch
  if (killWhen) {
    const poll = async () => {
      if (child.exitCode !== null) return
      if (await killWhen().catch(() => false)) {
        try {
          kill(child.pid!)
          killed = true
        } catch (e) {
          stderr += `\n[test] kill failed: ${(e as Error).message}`
        }
        return
      }
      timer = setTimeout(poll, 3)
    }
    void poll()
  }
  const { limit } = watch
  const watchdog = limit && setTimeout(() => (stderr += limit.stop(child.pid!)), limit.ms)
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer)
      clearTimeout(watchdog)
      resolve({ killed, code, stderr, pid: child.pid! })
    }),
  )
}

/** runScan's options that a child process can be given (no model, no callbacks). */
export type ChildScanOptions = Omit<ScanOptions, 'model' | 'onProgress' | 'onProfile' | 'signal'>

/**
 * runScan of the model in `modelDir` in a child process on the tfjs cpu backend, throttled (`slowMs` of busy
 * work per progress report) and checkpointing after every batch; rejects when it failed without being killed.
 */
export async function childScan(modelDir: string, scan: ChildScanOptions, o: { slowMs: number; killWhen?: () => Promise<boolean> }): Promise<ChildEnd> {
  const script = `
    import * as tf from '@tensorflow/tfjs'
    import { loadModel } from ${JSON.stringify(join(ROOT, 'src/main/engine/models/loadModel.ts'))}
    import { runScan } from ${JSON.stringify(join(ROOT, 'src/main/engine/scan/runScan.ts'))}
    await tf.setBackend('cpu')
    const a = JSON.parse(process.argv[1])
    const model = await loadModel(a.modelDir)
    const slow = () => { const until = Date.now() + a.slowMs; while (Date.now() < until) {} }
    await runScan({ ...a.scan, model, onProgress: slow })
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify({ modelDir, scan, slowMs: o.slowMs })], {
    cwd: ROOT,
    env: { ...process.env, CONVSCOPE_CHECKPOINT_MS: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const end = await watchChild(child, { killWhen: o.killWhen })
  if (!end.killed && end.code !== 0) throw new Error(`child ${scan.codes ? 'codes run' : 'scan'} failed (${end.code}): ${end.stderr}`)
  return end
}

/** Images done according to the checkpoint in `dir` (its JSON header follows 8 bytes of magic and length). */
export async function checkpointPosition(dir: string): Promise<number> {
  const buf = await readFile(join(dir, CHECKPOINT_FILE))
  return (JSON.parse(buf.subarray(8, 8 + buf.readUInt32LE(4)).toString()) as { position: number }).position
}
