// Read by the Vite plugin and by svelte-check, so both compile .svelte files alike.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  // Lets <script lang="ts"> and <style> use anything Vite understands.
  preprocess: vitePreprocess(),
};
