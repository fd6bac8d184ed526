import { ConvscopeError } from '../../shared/api'
import { activationsCommand } from './activationsCommand'
import { actmaxCommand } from './actmaxCommand'
import { classifyCommand } from './classifyCommand'
import { codesCommand } from './codesCommand'
import { gridCommand } from './gridCommand'
import { demoDataCommand } from './demoDataCommand'
import { embedCommand } from './embedCommand'
import { faithfulnessCommand } from './faithfulnessCommand'
import { fcnCommand } from './fcnCommand'
import { importTorchvisionCommand } from './importTorchvisionCommand'
import { infoCommand } from './infoCommand'
import { mergeCommand } from './mergeCommand'
import { neighboursCommand } from './neighboursCommand'
import { scanCommand } from './scanCommand'
import { topCommand } from './topCommand'
import { camCommand } from './camCommand'
import { localizeCommand } from './localizeCommand'
import { occlusionCommand } from './occlusionCommand'
import { saliencyCommand } from './saliencyCommand'
import { serveCommand } from './serveCommand'
import { setVerbose } from './engineSession'

export interface Command {
  summary: string
  usage: string
  run(args: string[]): Promise<number>
}

const commands: Record<string, Command> = {
  serve: serveCommand,
  info: infoCommand,
  activations: activationsCommand,
  classify: classifyCommand,
  'demo-data': demoDataCommand,
  scan: scanCommand,
  merge: mergeCommand,
  codes: codesCommand,
  neighbours: neighboursCommand,
  embed: embedCommand,
  grid: gridCommand,
  top: topCommand,
  fcn: fcnCommand,
  faithfulness: faithfulnessCommand,
  cam: camCommand,
  localize: localizeCommand,
  saliency: saliencyCommand,
  occlusion: occlusionCommand,
  actmax: actmaxCommand,
  'import-torchvision': importTorchvisionCommand,
}

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length))
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)} ${c.summary}`)
  return [
    'usage: convscope <command> [options] [--verbose]',
    '',
    'commands:',
    ...rows,
    '',
    'Run `convscope <command> --help` for its options. --verbose (any command): name the compute backend on stderr.',
  ].join('\n')
}

/** Entry of the command line; returns the exit code. Errors print one clear line, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  // --verbose is command-wide, so it is taken out before the command parses its own options.
  setVerbose(argv.includes('--verbose'))
  const [name, ...rest] = argv.filter((a) => a !== '--verbose')
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help())
    return name ? 0 : 2
  }
  const command = commands[name]
  if (!command) {
    console.error(`convscope: unknown command "${name}"\n\n${help()}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (error) {
    if (error instanceof ConvscopeError) {
      console.error(`convscope ${name}: ${error.message}`)
      return error.code === 'BAD_REQUEST' ? 2 : 1
    }
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`convscope ${name}: ${error.message}\n\n${command.usage}`)
      return 2
    }
    throw error
  }
}
