/**
 * `torrenttp serve --redis`: two serve processes on one folder and one private redis-server run
 * one swarm per file. The torrent made by A is admitted by B's tracker without B ever being asked
 * for it (the served info-hashes are shared through Redis); a peer announced to either is handed
 * out by the other, with A's seed among them; once B makes the same torrent its seed joins the
 * same swarm. Hashes neither serves stay refused. Both processes are stopped by pid.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { parseTorrent } from '../../src/metainfo/index.js';
import { decodeAnnounceResponse, encodeAnnounceQuery, type AnnounceRequest, type AnnounceResponse } from '../../src/tracker/index.js';
import { run, until, type Proc } from '../helpers/processes.js';
import { bytes, withTempDir } from '../helpers/torrents.js';
import { startRedis } from '../tracker/server/redis-process.js';
import { torrentOf } from './helpers.js';

const MAIN = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');
const MIB = 1024 * 1024;

interface Serve {
  readonly url: string;
  readonly seedPort: number;
  readonly proc: Proc;
}

async function serve(t: TestContext, root: string, redis: string): Promise<Serve> {
  const proc = run(t, process.execPath, [MAIN, 'serve', root, '--port', '0', '--host', '127.0.0.1', '--redis', redis, '--log-level', 'warn']);
  await until('serve to print its start line', () => /seed on port \d+/.test(proc.output), 20_000, proc);
  assert.match(proc.output, /swarms in redis:\/\/127\.0\.0\.1:\d+/);
  return { url: /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(proc.output)![1]!, seedPort: Number(/seed on port (\d+)/.exec(proc.output)![1]), proc };
}

function peerId(n: number): Uint8Array {
  const id = new Uint8Array(20).fill(0x41);
  id[19] = n;
  return id;
}

async function announce(base: string, infoHash: Uint8Array, n: number): Promise<AnnounceResponse> {
  const r: AnnounceRequest = { infoHash, peerId: peerId(n), port: 40_000 + n, uploaded: 0, downloaded: 0, left: 100, event: 'started' };
  const res = await request(`${base}/announce?${encodeAnnounceQuery(r)}`);
  return decodeAnnounceResponse(new Uint8Array(await res.body.arrayBuffer()));
}

const portsOf = (r: AnnounceResponse): number[] => (r.type === 'ok' ? r.peers.map((p) => p.port).sort((x, y) => x - y) : []);

async function stop(s: Serve): Promise<void> {
  s.proc.child.kill('SIGTERM'); // by pid
  assert.equal(await s.proc.exited, 0, s.proc.output);
}

test('serve --redis: two servers on one folder share one swarm per file and admit each other\'s torrents', { timeout: 90_000 }, (t) =>
  withTempDir(t, async (dir) => {
    // After-hooks run in the order they were added: the servers stop before their Redis does.
    const servers: Serve[] = [];
    t.after(() => Promise.all(servers.map(async (s) => {
      if (s.proc.child.exitCode === null && s.proc.child.signalCode === null) {
        s.proc.child.kill('SIGTERM');
        // A server that does not stop is a failure already reported; do not hang the suite on it.
        const late = setTimeout(() => s.proc.child.kill('SIGKILL'), 10_000);
        await s.proc.exited;
        clearTimeout(late);
      }
    })));
    const redis = await startRedis(t);
    const root = join(dir, 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'big.bin'), bytes(2 * MIB + 3, 5));
    const a = await serve(t, root, redis);
    const b = await serve(t, root, redis);
    servers.push(a, b);
    const infoHash = parseTorrent(await torrentOf(`${a.url}/big.bin`)).infoHash;
    const hashBytes = Uint8Array.from(Buffer.from(infoHash, 'hex'));

    // B was never asked for this torrent, yet its tracker admits it, and hands out A's seed.
    let viaB: AnnounceResponse | undefined;
    await until('B to admit A\'s torrent and list A\'s seed', async () => {
      viaB = await announce(b.url, hashBytes, 1);
      return viaB.type === 'ok' && portsOf(viaB).includes(a.seedPort);
    }, 30_000, b.proc);
    assert.deepEqual(portsOf(viaB!), [a.seedPort]);

    // A peer announced to B is handed out by A, and the other way round.
    const viaA = await announce(a.url, hashBytes, 2);
    assert.deepEqual(portsOf(viaA), [40_001, a.seedPort].sort((x, y) => x - y));
    assert.deepEqual(portsOf(await announce(b.url, hashBytes, 1)), [40_002, a.seedPort].sort((x, y) => x - y));

    // B makes the same torrent (same bytes, same info-hash): its seed joins the same swarm.
    assert.equal(parseTorrent(await torrentOf(`${b.url}/big.bin`)).infoHash, infoHash);
    await until('B\'s seed in the swarm A hands out', async () => portsOf(await announce(a.url, hashBytes, 2)).includes(b.seedPort), 30_000, b.proc);
    const status = (await (await request(`${b.url}/.torrenttp/status.json`)).body.json()) as { tracker: { store: string }; swarms: { infoHash: string; seeds: number; leechers: number }[] };
    assert.equal(status.tracker.store, 'redis');
    assert.deepEqual(status.swarms.map((s) => [s.infoHash, s.seeds, s.leechers]), [[infoHash, 2, 2]]);

    // Still a private tracker: a hash neither server serves is refused by both.
    const stranger = new Uint8Array(20).fill(7);
    for (const s of [a, b]) assert.equal((await announce(s.url, stranger, 3)).type, 'failure');

    await stop(a);
    await stop(b);
  }));
