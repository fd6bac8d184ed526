import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import vue from '@vitejs/plugin-vue'

// Three builds, one per process kind: the Electron shell and the engine process (main), the sandboxed
// preload (CommonJS, no dependencies), and the renderer (also served as static files in served mode).
export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/app/index.ts'),
          engine: resolve(__dirname, 'src/main/engine/worker.ts'),
          // The dataset loop's decode threads (engine/datasets/decodePool.ts finds it by entryFile.ts's rule).
          decodeWorker: resolve(__dirname, 'src/main/engine/datasets/decodeWorker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: {
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
      chunkSizeWarningLimit: 5000,
    },
    resolve: { alias: { '@shared': resolve(__dirname, 'src/shared') } },
    plugins: [vue()],
  },
})
