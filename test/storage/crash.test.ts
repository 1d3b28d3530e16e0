import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../../src/storage/index.js';
import { withTempDir } from '../helpers/torrents.js';
import { CRASH_GARBAGE_PIECE, crashTorrent } from './crash-torrent.js';

const child = fileURLToPath(new URL('./crash-child.js', import.meta.url));

/**
 * kill -9 mid-download, then reopen: every piece the child saw committed is still verified
 * (from the resume file or by recheck), and every verified piece's bytes on disk are right,
 * including the one the child left half-written.
 */
for (const killAfter of [5, 40, 90]) {
  test(`SIGKILL after ${killAfter} committed pieces loses no verified piece and invents none`, (ctx) =>
    withTempDir(async (dir) => {
      const t = crashTorrent();
      const g = t.metainfo.geometry;
      const proc = spawn(process.execPath, [child, dir, String(killAfter)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const committed = new Set<number>();
      try {
        let buffered = '';
        await new Promise<void>((resolve, reject) => {
          proc.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
          proc.stdout.setEncoding('utf8');
          proc.stdout.on('data', (chunk: string) => {
            buffered += chunk;
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const line of lines) if (/^\d+$/.test(line)) committed.add(Number(line));
            if (committed.size >= killAfter) resolve();
          });
        });
      } finally {
        if (proc.exitCode === null && proc.signalCode === null) {
          const exited = once(proc, 'exit');
          process.kill(proc.pid!, 'SIGKILL');
          await exited;
        }
      }
      assert.equal(proc.signalCode, 'SIGKILL');

      let hashedBytes = 0;
      const s = await openStorage(t.metainfo, dir, { onCheckProgress: (n) => (hashedBytes = n) });
      try {
        for (const i of committed) assert.ok(s.bitfield.has(i), `committed piece ${i} lost`);
        assert.equal(s.bitfield.has(CRASH_GARBAGE_PIECE), false);
        const files = t.metainfo.files.map((_, f) => readFileSync(t.pathOf(dir, f)));
        const stream = Buffer.concat(files);
        for (const i of s.bitfield) {
          const from = i * g.pieceLength;
          assert.ok(stream.subarray(from, from + g.pieceLengthOf(i)).equals(t.content.subarray(from, from + g.pieceLengthOf(i))), `piece ${i} marked but wrong on disk`);
        }
      } finally {
        await s.close();
      }
      ctx.diagnostic(`killed after ${committed.size} pieces; reopen hashed ${hashedBytes} bytes`);
    }));
}
