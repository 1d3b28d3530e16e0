/**
 * Issue 16's mixed swarm, with real processes: aria2c seeds over the wire (BEP 3) and is found
 * through our tracker; torrenttp node A downloads from it with `--http-port 0`, so A serves the
 * torrent over TorrentTTP while it downloads; torrenttp node B downloads over HTTP only, from A's
 * torrent URL (`--peer URL`, no trackers, no DHT, no web seeds, no wire peer). Both files are
 * byte-identical to aria2c's, and A's upload is B's whole download. aria2c and mktorrent are
 * required: CI installs them (.ci/run), and a missing one fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLines, spawnCli } from '../helpers/cli.js';
import { until } from '../helpers/processes.js';
import { ariaSeed, ourTrackerSwarm } from '../helpers/swarm.js';
import { withTempDir } from '../helpers/torrents.js';

const PAYLOAD_BYTES = 8 * 1024 * 1024 + 12_345;

test('aria2c seed (wire) → torrenttp A (--http-port 0) → torrenttp B (TorrentTTP only): byte-identical', { timeout: 120_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const { server, seedDir, payload, torrent } = await ourTrackerSwarm(t, dir, 'http', PAYLOAD_BYTES);
    const aria = await ariaSeed(t, torrent, seedDir);
    await until('aria2c to announce to our tracker', async () => (await server.stats()).seeders === 1, 20_000, aria.proc);

    const a = spawnCli(t, dir, ['download', torrent, '-o', 'a', '--seed', '--listen', '127.0.0.1', '--http-port', '0', '--no-dht', '--json', '--json-interval', '0']);
    await until('A to print its TorrentTTP URL', () => jsonLines(a).some((l) => l.event === 'started'), 30_000);
    const started = jsonLines(a).find((l) => l.event === 'started')!;
    const url = started['ttpUrl'];
    assert.equal(typeof url, 'string', a.stdout + a.stderr);
    assert.match(String(url), new RegExp(`^http://127\\.0\\.0\\.1:\\d+/ttp/v1/torrents/${String(started['infoHash'])}$`));

    // B starts while A is still downloading: it learns A's new pieces by the have-set long-poll.
    const b = spawnCli(t, dir, ['download', torrent, '-o', 'b', '--no-trackers', '--no-dht', '--no-web-seeds', '--listen', '127.0.0.1', '--peer', String(url), '--json']);
    assert.equal(await b.exited, 0, `B failed:\n${b.stdout}\n${b.stderr}\n--- A:\n${a.stdout}\n${a.stderr}`);
    assert.ok(readFileSync(join(dir, 'b', 'payload.bin')).equals(payload), 'B: byte-identical');
    const bSources = jsonLines(b).filter((l) => l.event === 'source');
    assert.ok(bSources.some((l) => l['id'] === url && l['ok'] === true), `B's source was A's URL:\n${b.stdout}`);
    assert.ok(bSources.every((l) => l['id'] === url), `B used no other source:\n${b.stdout}`);
    const bSummary = jsonLines(b).find((l) => l.event === 'summary')!;
    assert.equal(bSummary['status'], 'complete');
    assert.ok((bSummary['downloaded'] as number) >= PAYLOAD_BYTES, JSON.stringify(bSummary));

    await until('A to finish its download', () => jsonLines(a).some((l) => l.event === 'seeding'), 60_000);
    assert.ok(readFileSync(join(dir, 'a', 'payload.bin')).equals(payload), 'A: byte-identical');
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.stderr);
    const aSummary = jsonLines(a).filter((l) => l.event === 'summary').at(-1)!;
    assert.ok((aSummary['downloaded'] as number) >= PAYLOAD_BYTES, `A downloaded from aria2c: ${JSON.stringify(aSummary)}`);
    assert.ok((aSummary['uploaded'] as number) >= PAYLOAD_BYTES, `A uploaded B's whole file over HTTP: ${JSON.stringify(aSummary)}`);
  }));
