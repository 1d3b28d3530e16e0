import { makeTorrent, type TestTorrent } from './helpers.js';

/** The torrent of crash.test.ts, built the same way in the parent and the child. */
export function crashTorrent(): TestTorrent {
  return makeTorrent(
    [
      { path: ['a.bin'], length: 700_000 },
      { path: ['empty'], length: 0 },
      { path: ['sub', 'b.bin'], length: 1_300_000 },
      { path: ['sub', 'c.bin'], length: 33_333 },
    ],
    16384,
    { seed: 99 },
  );
}

/** The piece the child scribbles over and never commits. */
export const CRASH_GARBAGE_PIECE = 50;
