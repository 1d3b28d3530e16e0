/**
 * Child process of write-only-folder.test.ts: downloads two torrents (a single file and a folder)
 * into argv[2], a folder it may write in and search but not list (mode 0333), with its resume
 * files, and prints `ok` (or the error's code and message). Run as root, it first becomes uid
 * argv[3] (its modules already loaded): root reads any folder, permission bits or not.
 */
import { DiskPool, openStorage } from '../../src/storage/index.js';
import { pieceIndex, writeOnlyTorrents } from './helpers.js';

const [dir, uid] = [process.argv[2]!, process.argv[3]];
const pool = new DiskPool({ inline: true });
if (uid !== undefined) {
  process.setgroups!([]);
  process.setgid!(Number(uid));
  process.setuid!(Number(uid));
}
try {
  for (const t of writeOnlyTorrents()) {
    const store = await openStorage(t.metainfo, dir, { pool });
    for (let i = 0; i < t.metainfo.pieceCount; i++) {
      if (!(await store.commitPiece(pieceIndex(t, i), t.piece(i)))) throw new Error(`piece ${i} failed its hash`);
    }
    await store.close();
  }
  process.stdout.write('ok\n');
} catch (err) {
  const e = err as { code?: unknown; message?: unknown };
  process.stdout.write(`${String(e.code)}: ${String(e.message)}\n`);
} finally {
  await pool.close();
}

