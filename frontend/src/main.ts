import { mount } from 'svelte';
import App from './App.svelte';
import { setupI18n } from './i18n';
import './app.css';

// The language before the first string is rendered (the user's saved
// choice, once known, may reload the page in it: App.svelte).
setupI18n();

const target = document.getElementById('app');
if (!target) throw new Error('Release Desk: #app element missing from index.html');

export default mount(App, { target });
