import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Session } from '../../../shared/api'
import { writeFileAtomic } from './writeFileAtomic'

/**
 * The window's last session in a workspace, `session.json` at its root (issue 9: a reload or a second tab
 * came back empty). The engine keeps it, not browser storage, so every window of the workspace (Electron or
 * served) finds it. Written whole and atomically: a reader never sees half a file.
 */
export class SessionStore {
  readonly file: string

  constructor(workspace: string) {
    this.file = join(workspace, 'session.json')
  }

  /** The saved session; null when there is none or it does not parse (a damaged file is simply replaced by the next save). */
  async read(): Promise<Session | null> {
    const text = await readFile(this.file, 'utf8').catch(() => null)
    if (text === null) return null
    try {
      return Session.parse(JSON.parse(text))
    } catch {
      return null
    }
  }

  /** No fsync: a session is rewritten on every selection change, and losing the last one to a power cut costs little. */
  async write(session: Session): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(Session.parse(session), null, 2) + '\n', { durable: false })
  }
}
