/// <reference types="vitest/config" />
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { Plugin } from 'vite';
import { defineConfig, loadEnv } from 'vite';

// Go embeds `all:frontend/dist`, and a fresh clone has only dist/.gitkeep there.
// A build empties dist/, so the placeholder is emitted again as part of the
// bundle: the committed file survives every `vite build`, however it is run.
function keepGitkeep(): Plugin {
  return {
    name: 'releasedesk:keep-gitkeep',
    apply: 'build',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: '.gitkeep', source: '' });
    },
  };
}

export default defineConfig(({ mode }) => {
  // Dev proxy, opt-in: `RELEASEDESK_API=http://127.0.0.1:7788 npm run dev` sends
  // /api to a running `releasedesk serve` for work in a browser. Off by default
  // because under `wails dev` Wails answers /api itself, but only after the dev
  // server says 404: a proxy there would shadow the Go handler.
  const api = loadEnv(mode, '.', 'RELEASEDESK_').RELEASEDESK_API;

  return {
    plugins: [svelte(), keepGitkeep()],
    // The Go server serves dist/ at the site root.
    base: '/',
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      // No external requests at run time: small assets inline, nothing from a CDN.
      assetsInlineLimit: 4096,
    },
    server: api ? { proxy: { '/api': { target: api } } } : {},
    // Vitest runs in Node. The browser condition plus the web transform make
    // tests load Svelte's client runtime and compile .svelte.ts for the client,
    // as in the app, instead of the server renderer.
    resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
    test: {
      include: ['src/**/*.test.ts'],
      setupFiles: ['src/i18n/test-setup.ts'],
      environment: 'node',
      testTransformMode: { web: ['**/*.test.ts'] },
      restoreMocks: true,
      unstubGlobals: true,
    },
  };
});
