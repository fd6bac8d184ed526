import { constants } from 'node:fs'
import { access, mkdir, realpath } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { ConvscopeError } from '../shared/api'
import type { EngineOptions } from './engine/engine'

/**
 * The workspace folder (catalog, results, thumbnails): CONVSCOPE_WORKSPACE if set, else the platform's
 * per-user data folder — $XDG_DATA_HOME or ~/.local/share on Linux, ~/Library/Application Support on
 * macOS, %APPDATA% on Windows — followed by `convscope`. A `--workspace` flag overrides both (resolveWorkspace).
 */
export function defaultWorkspaceDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  if (env.CONVSCOPE_WORKSPACE) return resolve(env.CONVSCOPE_WORKSPACE)
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'convscope')
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'convscope')
  // The XDG spec says to ignore a relative XDG_DATA_HOME.
  const dataHome = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share')
  return join(dataHome, 'convscope')
}

/** The workspace for a `--workspace` flag value (may be undefined): the flag, else defaultWorkspaceDir(). */
export function resolveWorkspace(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag ? resolve(flag) : defaultWorkspaceDir(env)
}

/** Create the workspace folder if needed and check that it is writable; returns its real path. */
export async function ensureWorkspace(dir: string): Promise<string> {
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.R_OK | constants.W_OK)
    return await realpath(dir)
  } catch (error) {
    throw new ConvscopeError('FORBIDDEN', `Cannot use ${dir} as the workspace: ${(error as Error).message}. Choose another with --workspace or CONVSCOPE_WORKSPACE.`)
  }
}

/** Value of `--name value` or `--name=value` in argv; the last occurrence wins. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === `--${name}` && i + 1 < argv.length) value = argv[++i]
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3)
  }
  return value
}

/** Engine options from the command line (--workspace, --backend, --executor, --device) with the environment as fallback. */
export function engineOptionsFrom(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): EngineOptions {
  const backend = flagValue(argv, 'backend') ?? env.CONVSCOPE_BACKEND
  const executor = flagValue(argv, 'executor') || env.CONVSCOPE_EXECUTOR
  const device = flagValue(argv, 'device') || env.CONVSCOPE_DEVICE
  return {
    workspace: resolveWorkspace(flagValue(argv, 'workspace'), env),
    ...(backend ? { backend } : {}),
    ...(executor ? { executor } : {}),
    ...(device ? { device } : {}),
  }
}

/** The command-line arguments that give an engine process these options (read back by engineOptionsFrom). */
export function engineArgs(options: EngineOptions): string[] {
  const flag = (name: string, value: string | undefined) => (value ? [`--${name}`, value] : [])
  return ['--workspace', options.workspace, ...flag('backend', options.backend), ...flag('executor', options.executor), ...flag('device', options.device)]
}
