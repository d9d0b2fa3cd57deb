import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `base: './'`: the built app works from any path of a static server.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', sourcemap: true },
});
