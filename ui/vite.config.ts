// Vite build of the dashboard. The output goes where CMake asks (--outDir,
// in the build tree); ui/embed.mjs then compiles it into batond. Assets get
// hashed names under /ui/assets/, so batond serves them with a long cache;
// nothing is inlined into index.html (batond's CSP allows no inline script).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 200,
  },
});
