// The test command of `npm run mutate` (stryker.config.json): the compiled engine unit tests in
// one process, stopping at the first failure. One failure is enough to kill a mutant, and
// `node --test` (Node 20) has no bail: this keeps a mutation run to minutes on two cores.
// Fastest and sharpest first: the fake-clock tests, then the picker/choker units, then the
// fake-peer downloads.
import { after } from 'node:test';

const files = ['metadata-fetch', 'readers', 'uploader-gate', 'rate-choker', 'pex-state', 'torrent-tick', 'pex', 'magnet', 'upload-snub', 'choke-round', 'super-seed-unit', 'super-seed-slots', 'peer-set-unit', 'peer-eviction', 'picker-choker', 'picker-edges', 'peer-set', 'downloader-unit', 'downloader', 'uploader', 'reader', 'selection', 'super-seed', 'torrent'];
for (const f of files) await import(new URL(`../../dist/test/engine/${f}.test.js`, import.meta.url).href);
// Registered after every import: registered first, it ran (and exited, passing) as soon as a first
// file whose tests are all synchronous had finished, before the next file was imported.
after(() => process.exit(process.exitCode ?? 0));
