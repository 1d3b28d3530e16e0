/**
 * A `torrenttp get` that ends before its download does (issue 15) still tells `serve`'s tracker
 * `stopped`: else the tracker keeps the dead peer, and the next gets hear `TorrentTTP-Swarm-Peers: 1`,
 * take the wire path instead of the lone stream and dial a dead address until the peer expires.
 * The real CLI (dist/src/cli/main.js) against a real serve (in this process): its stdout's reader
 * closes early (EPIPE, `get URL -o - | head`), it is sent SIGTERM, its stdout is a full disk
 * (/dev/full: ENOSPC, exit 23), its file is on a full disk (a small tmpfs: STORAGE_NO_SPACE, exit
 * 23). Fault checked once: main.ts exiting at once on EPIPE (as before)
 * leaves the first case's leecher on the tracker, and the test fails waiting for it to go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { GET_WRITE_ERROR_EXIT } from '../../src/cli/commands/get.js';
import { parseTorrent } from '../../src/metainfo/index.js';
import { CLI_BIN, spawnOnTmpfs } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startGateway, torrentOf } from '../gateway/helpers.js';

const MIB = 1024 * 1024;
/** main.ts's last-resort exit, said with --debug: what still held the process 2 s after the command. */
const STILL_RUNNING = /still running 2 s after the command ended/;

test('a get that ends early (reader gone, SIGTERM, full disk) says `stopped`: serve keeps no dead peer and the next get streams alone', { timeout: 180_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(16 * MIB, 15));
    const g = await startGateway(t, { root, cacheDir: join(dir, 'cache') });
    const url = `${g.url}/big.bin`;
    const { infoHash } = parseTorrent(await torrentOf(url));
    for (let i = 0; i < 100 && (await request(`${url}?torrent`).then(async (r) => (await r.body.dump(), r.headers['torrenttp-seed']))) === undefined; i++) await new Promise((res) => setTimeout(res, 20));
    const leechers = async (): Promise<number | null> => {
      const r = await request(`${g.url}/.torrenttp/status.json`);
      const doc = (await r.body.json()) as { swarms: { infoHash: string; leechers: number | null }[] };
      return doc.swarms.find((s) => s.infoHash === infoHash)?.leechers ?? null;
    };
    /** What the next get hears (a HEAD: it reserves nothing). */
    const swarmPeers = async (): Promise<unknown> => {
      const r = await request(url, { method: 'HEAD', headers: { accept: 'application/x-bittorrent', 'torrenttp-join': '1' } });
      await r.body.dump();
      return r.headers['torrenttp-swarm-peers'];
    };
    const start = (stdout: 'pipe' | number): { child: ChildProcessByStdio<null, Readable | null, Readable>; stderr: () => string } => {
      const child = spawn(process.execPath, ['--openssl-legacy-provider', CLI_BIN, 'get', '-s', url, '-o', '-', '--debug'], { stdio: ['ignore', stdout, 'pipe'] }) as ChildProcessByStdio<null, Readable | null, Readable>;
      t.after(() => child.kill()); // by pid, if still running
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      return { child, stderr: () => err };
    };
    /** Started, with its first bytes on stdout and its `started` on the tracker; then reading stops (the pipe fills, the get waits). */
    const startedAndStuck = async (): Promise<ReturnType<typeof start>> => {
      const run = start('pipe');
      const stdout = run.child.stdout!;
      await once(stdout, 'readable');
      stdout.pause();
      await until('the get announced (a leecher on the tracker)', async () => (await leechers()) === 1, 20_000);
      return run;
    };
    const gone = async (how: string, stderr: string): Promise<void> => {
      assert.doesNotMatch(stderr, STILL_RUNNING, `${how}: the process ends on its own`);
      await until(`${how}: no leecher left on the tracker`, async () => (await leechers()) === 0, 30_000);
      assert.equal(await swarmPeers(), '0', `${how}: the next get hears it is alone (lone stream)`);
    };

    assert.equal(await swarmPeers(), '0');

    // The reader closes stdout early: EPIPE. Exit 0 (the reader's choice), nothing on stderr.
    const piped = await startedAndStuck();
    piped.child.stdout!.destroy();
    const [pipedCode] = (await once(piped.child, 'exit')) as [number | null];
    assert.equal(pipedCode, 0, piped.stderr());
    assert.equal(piped.stderr(), '');
    await gone('EPIPE', piped.stderr());

    // Ctrl-C (SIGTERM here): 130, as before, and `stopped` too.
    const killed = await startedAndStuck();
    killed.child.kill('SIGTERM');
    killed.child.stdout!.resume(); // the stuck write may end; the get stops anyway
    const [killedCode] = (await once(killed.child, 'exit')) as [number | null];
    assert.equal(killedCode, 130, killed.stderr());
    await gone('SIGTERM', killed.stderr());

    // stdout on a full disk: ENOSPC at the first write. Exit 23 with the reason.
    const full = openSync('/dev/full', 'w');
    const disk = start(full);
    closeSync(full);
    const [diskCode] = (await once(disk.child, 'exit')) as [number | null];
    assert.equal(diskCode, GET_WRITE_ERROR_EXIT, disk.stderr());
    assert.match(disk.stderr(), /^torrenttp: cannot write the download: ENOSPC: no space left on device, write$/m);
    await gone('ENOSPC on stdout', disk.stderr());

    // A file on a full disk (an 8 MiB tmpfs for 16 MiB): the swarm's storage fails. Exit 23 too.
    mkdirSync(join(dir, 'dl'));
    const tmpfs = spawnOnTmpfs(t, dir, 8 * MIB, ['get', '-s', url, '-o', 'dl/big.bin', '--debug']);
    assert.equal(await tmpfs.exited, GET_WRITE_ERROR_EXIT, tmpfs.stderr);
    assert.match(tmpfs.stderr, /^torrenttp: no space left on the disk.*\[STORAGE_NO_SPACE\]$/m);
    await gone('ENOSPC on the file', tmpfs.stderr);
  }),
);
