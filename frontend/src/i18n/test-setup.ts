// Vitest: the catalogs loaded and English chosen before any test runs, as
// main.ts does for the page, so t() and $_ answer in every test.
import { setupI18n } from './index';

setupI18n('en');
