import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { defaultWorkspaceDir, engineArgs, engineOptionsFrom } from '../../src/main/workspace'

test('the workspace defaults to the per-user data folder of each platform', () => {
  assert.equal(defaultWorkspaceDir({}, 'linux', '/home/ada'), join('/home/ada', '.local', 'share', 'convscope'))
  assert.equal(defaultWorkspaceDir({ XDG_DATA_HOME: '/data' }, 'linux', '/home/ada'), join('/data', 'convscope'))
  assert.equal(defaultWorkspaceDir({ XDG_DATA_HOME: 'relative' }, 'linux', '/home/ada'), join('/home/ada', '.local', 'share', 'convscope'))
  assert.equal(defaultWorkspaceDir({}, 'darwin', '/Users/ada'), join('/Users/ada', 'Library', 'Application Support', 'convscope'))
  assert.equal(defaultWorkspaceDir({ APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, 'win32', 'C:\\Users\\ada'), join('C:\\Users\\ada\\AppData\\Roaming', 'convscope'))
  assert.equal(defaultWorkspaceDir({ CONVSCOPE_WORKSPACE: '/ws' }, 'linux', '/home/ada'), '/ws')
})

test('--workspace and --backend override the environment, and engineArgs round-trips them', () => {
  const env = { CONVSCOPE_WORKSPACE: '/from-env', CONVSCOPE_BACKEND: 'wasm' }
  assert.deepEqual(engineOptionsFrom(['--workspace', '/flag', '--backend=cpu'], env), { workspace: '/flag', backend: 'cpu' })
  assert.deepEqual(engineOptionsFrom([], env), { workspace: '/from-env', backend: 'wasm' })
  const options = { workspace: '/w s', backend: 'cpu' }
  assert.deepEqual(engineOptionsFrom(engineArgs(options), {}), options)
})
