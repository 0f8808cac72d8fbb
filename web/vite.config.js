// The console is served by tongban-node and tongban-hub under /console/ (see
// shared/src/static_files.cc). The build writes into the CMake build tree
// (--outDir from web/CMakeLists.txt); nothing is loaded from a CDN: nodes work offline.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: {
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1200,
    sourcemap: false,
    rollupOptions: {
      output: {
        // Element Plus and Vue change rarely: one cached chunk across console builds.
        manualChunks: { vendor: ['vue', 'vue-router', 'element-plus'] },
      },
    },
  },
})
