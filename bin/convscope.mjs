#!/usr/bin/env node
// The convscope command line. Runs the bundle of the TypeScript sources that bin/cliBundle.mjs keeps up to date
// (built on the first start after a change), or the sources through tsx when there is none
// (CONVSCOPE_CLI_BUNDLE=0, or the build failed): either way a checkout needs no build step.
import { pathToFileURL } from 'node:url'
import { cliBundle } from './cliBundle.mjs'

const bundle = await cliBundle()
let main
if (bundle) {
  ;({ main } = await import(pathToFileURL(bundle).href))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../src/main/cli/index.ts'))
}
process.exitCode = await main(process.argv.slice(2))
