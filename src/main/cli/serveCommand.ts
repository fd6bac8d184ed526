import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { packageRoot } from '../packageRoot'
import { startServer } from '../server/server'
import { defaultWorkspaceDir } from '../workspace'
import { applyExecutorOptions, EXECUTOR_USAGE, executorOptions } from './options'
import type { Command } from './index'
import { buildIfStale, RENDERER_BUILD } from './staleBuild'

const usage = `usage: convscope serve [--host 127.0.0.1] [--port 0] [--workspace DIR] [--backend NAME] ${EXECUTOR_USAGE} [--no-demo]

Served mode: the workbench in any browser. Prints the URL with its access token.
Builds the window first when out/renderer is missing or older than the sources (as \`npm start\` does).
On a workspace without models, the window opens the bundled demo (--no-demo: it does not).
--port 0 picks a free port. Binding another host than 127.0.0.1 exposes your files to that network:
only do it on a trusted network (the token is still required).`

export const serveCommand: Command = {
  summary: 'start served mode (the workbench in a browser) and print its URL',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
        workspace: { type: 'string' },
        backend: { type: 'string' },
        ...executorOptions,
        'no-demo': { type: 'boolean', default: false },
      },
    })
    applyExecutorOptions(values)
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`convscope serve: --port must be an integer 0..65535, got "${values.port}"`)
      return 2
    }
    const root = packageRoot()
    if (!buildIfStale(root, RENDERER_BUILD)) return 1
    const staticDir = resolve(root, 'out', 'renderer')
    const server = await startServer({
      host: values.host,
      port,
      workspace: resolve(values.workspace ?? defaultWorkspaceDir()),
      backend: values.backend,
      staticDir,
      openDemoOnFirstStart: !values['no-demo'],
    })
    await new Promise<void>((done) => {
      const stop = () => {
        void server.close().then(done)
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    return 0
  },
}
