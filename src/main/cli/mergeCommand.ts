import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { mergeScans } from '../engine/scan/merge'
import type { Command } from './index'

const usage = `usage: convscope merge DIR... --out DIR

Merge the result folders of the shards of one scan (convscope scan --shard i/n) or of one codes run
(convscope codes --shard i/n) into one folder, identical byte for byte to what a single run would have written.`

export const mergeCommand: Command = {
  summary: 'merge the shard folders of a scan or of a codes run into one result',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' } } })
    if (!values.out || positionals.length === 0) {
      console.error(usage)
      return 2
    }
    const manifest = await mergeScans(positionals.map((p) => resolve(p)), resolve(values.out))
    const what = manifest.codes ? `codes of ${manifest.codes.layer} for ${manifest.dataset.count} images` : `${manifest.dataset.count} images`
    console.log(`merged ${positionals.length} shard(s) into ${resolve(values.out)}: ${what}, ${manifest.skipped.length} skipped`)
    return 0
  },
}
