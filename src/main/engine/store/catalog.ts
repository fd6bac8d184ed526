import { readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { RecentModel } from '../../../shared/api'
import { writeFileAtomic } from './writeFileAtomic'

/** The workspace's memory of what the user opened: `catalog.json` at the workspace root. */
const CatalogFile = z.object({
  version: z.literal(1),
  models: z.array(RecentModel),
})
type CatalogFile = z.infer<typeof CatalogFile>

const MAX_RECENT = 20

export class Catalog {
  private readonly file: string

  constructor(readonly workspace: string) {
    this.file = join(workspace, 'catalog.json')
  }

  async read(): Promise<CatalogFile> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch {
      return { version: 1, models: [] }
    }
    const parsed = CatalogFile.safeParse(safeJson(text))
    // A damaged catalog must not lock the user out: start afresh, keep the old file for inspection.
    if (!parsed.success) {
      await rename(this.file, `${this.file}.damaged-${Date.now()}`).catch(() => {})
      return { version: 1, models: [] }
    }
    return parsed.data
  }

  async recentModels(): Promise<RecentModel[]> {
    return (await this.read()).models
  }

  async findModel(id: string): Promise<RecentModel | undefined> {
    return (await this.read()).models.find((m) => m.id === id)
  }

  async rememberModel(entry: Omit<RecentModel, 'openedAt'>): Promise<void> {
    const catalog = await this.read()
    const others = catalog.models.filter((m) => m.id !== entry.id && m.dir !== entry.dir)
    catalog.models = [{ ...entry, openedAt: new Date().toISOString() }, ...others].slice(0, MAX_RECENT)
    await writeFileAtomic(this.file, JSON.stringify(catalog, null, 2))
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
