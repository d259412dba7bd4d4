import { defineConfig } from 'vite';

/**
 * The example app's build: workspace packages from source (the `@fitstream/source` condition, as the tests run them),
 * in front of Vite's browser conditions, so a change in packages/ shows up without a build.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  resolve: { conditions: ['@fitstream/source', 'module', 'browser', 'development|production'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
