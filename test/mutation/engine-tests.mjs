// The test command of `npm run mutate` (stryker.config.json): the compiled engine unit tests in
// one process, stopping at the first failure. One failure is enough to kill a mutant, and
// `node --test` (Node 20) has no bail: this keeps a mutation run to minutes on two cores.
// Fastest and sharpest first: the fake-clock tests, then the picker/choker units, then the
// fake-peer downloads.
import { after } from 'node:test';

const files = ['torrent-tick', 'upload-snub', 'choke-round', 'super-seed-unit', 'super-seed-slots', 'peer-set-unit', 'peer-eviction', 'picker-choker', 'picker-edges', 'peer-set', 'downloader-unit', 'downloader', 'uploader', 'reader', 'selection', 'super-seed', 'torrent'];
after(() => process.exit(process.exitCode ?? 0));
for (const f of files) await import(new URL(`../../dist/test/engine/${f}.test.js`, import.meta.url).href);
