/**
 * `convscope grid`: Karpathy's cnnembed image grid of a codes folder (issue 13) — the 2-D map (made here when
 * it is not in the folder yet, through the embedding store) snapped onto a grid by an optimal assignment and
 * drawn as a PNG (methods/embeddings/grid.ts, the engine's getImageGrid).
 */
import { parseArgs } from 'node:util'
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseParams } from '../../shared/api'
import { embedCodes, readEmbedding } from '../engine/embeddings/embeddingStore'
import { getImageGrid } from '../engine/methods/embeddings/grid'
import { withCliJob } from './jobProgress'
import { settingsOption, wholeNumberOption } from './options'
import type { Command } from './index'

const usage = `usage: convscope grid CODES_DIR [--method tsne|umap|pca] [--set name=value]... [--cols 20] [--rows R] [--cell 64] [--png OUT] [--json]

The images of a codes folder (\`convscope codes\`) on a grid, each cell showing the image whose point of the 2-D map
is assigned to it: the map scaled onto the grid, then the assignment of least total squared distance (Karpathy's
cnnembed figure). More images than cells: the assignment picks which are shown; fewer: cells stay dark grey.
  --method M       the map (default tsne); made now, with progress, when the folder has none with these settings
  --set name=value a setting of the method (repeatable), e.g. --set perplexity=30 (see \`convscope embed --help\`)
  --cols C         cells across (default 20, at most 200)
  --rows R         cells down (default: as many as --cols)
  --cell P         side of a cell in pixels (default 64, 8 … 512)
  --png OUT        also copy the PNG to OUT (it is always written to CODES_DIR/grids/)
  --json           print the result (cells as codes rows, -1 empty; cost; PNG path) as JSON on stdout`

export const gridCommand: Command = {
  summary: 'the cnnembed image grid of a codes folder from its 2-D map, as PNG',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        method: { type: 'string', default: 'tsne' },
        set: { type: 'string', multiple: true },
        cols: { type: 'string' },
        rows: { type: 'string' },
        cell: { type: 'string' },
        png: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    })
    if (positionals.length !== 1) {
      console.error(usage)
      return 2
    }
    const codesDir = resolve(positionals[0]!)
    const params = parseParams('getImageGrid', {
      codesDir,
      method: values.method,
      params: settingsOption(values.set),
      cols: wholeNumberOption(values.cols, '--cols') ?? 20,
      rows: wholeNumberOption(values.rows, '--rows'),
      cell: wholeNumberOption(values.cell, '--cell') ?? 64,
    })
    const grid = await withCliJob('grid', async (ctx) => {
      if (!(await readEmbedding(codesDir, params.method, params.params, 2))) {
        console.error(`convscope grid: no 2-D ${params.method} map of ${codesDir} with these settings yet; making it`)
        const made = await embedCodes(codesDir, params.method, params.params, 2, ctx)
        ctx.end()
        console.error(`convscope grid: ${made.file} (${made.seconds.toFixed(1)} s)`)
      }
      return getImageGrid(params, ctx)
    })
    if (values.png) {
      const out = resolve(values.png)
      await mkdir(dirname(out), { recursive: true })
      await copyFile(grid.png, out)
    }
    if (values.json) {
      console.log(JSON.stringify({ ...grid, copiedTo: values.png ? resolve(values.png) : null }))
      return 0
    }
    const filled = grid.cells.filter((c) => c !== -1).length
    console.log(`wrote ${values.png ? resolve(values.png) : grid.png}: ${grid.cols} × ${grid.rows} cells of ${grid.cell} px, ${filled} images, cost ${grid.cost.toFixed(2)} (squared cell sides), ${(grid.milliseconds / 1000).toFixed(1)} s`)
    return 0
  },
}
