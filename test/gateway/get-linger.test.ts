/**
 * A finished swarm get stays while its peers still pull from it (swarm-get.ts `uploadWatch`): the
 * gets of a crowd finish close together, and one that leaves at once takes pieces with it that
 * the others then fetch from the origin again. A get that uploaded nothing leaves at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { LINGER_IDLE_MS, uploadWatch } from '../../src/gateway/swarm-get.js';
import type { TorrentStats } from '../../src/engine/index.js';

/** A torrent's progress ticks with its upload total, on an injected clock. */
class FakeTorrent extends EventEmitter {
  uploaded = 0;
  closed = false;
  stats(): TorrentStats {
    return { uploaded: this.uploaded } as TorrentStats;
  }
  tick(uploaded: number): void {
    this.uploaded = uploaded;
    this.emit('progress', this.stats());
  }
}

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

test('get linger: a finished get that uploaded nothing leaves at once', async () => {
  let now = 0;
  const t = new FakeTorrent();
  const w = uploadWatch(t as never, () => now);
  t.tick(0);
  now = 5000;
  t.tick(0);
  assert.equal(w.pulling(), false, 'nothing to announce');
  assert.ok(await settled(w.linger(15_000)), 'no wait without uploads');
  w.dispose();
});

test('get linger: stays while peers pull, leaves once they stopped for LINGER_IDLE_MS, and never past maxMs', async () => {
  let now = 0;
  const t = new FakeTorrent();
  const w = uploadWatch(t as never, () => now);
  t.tick(100); // uploading when the download finishes
  assert.equal(w.pulling(), true, 'the get says why it stays');
  const p = w.linger(15_000);
  assert.ok(!(await settled(p)), 'a peer pulled just now: stay');
  for (let up = 200; now < 5000; up += 100) {
    now += 250;
    t.tick(up); // still pulling
  }
  assert.ok(!(await settled(p)), 'stays while the peer pulls');
  const stoppedAt = now;
  now = stoppedAt + LINGER_IDLE_MS - 1;
  t.tick(t.uploaded);
  assert.ok(!(await settled(p)));
  now = stoppedAt + LINGER_IDLE_MS;
  t.tick(t.uploaded);
  assert.ok(await settled(p), 'leaves once nobody pulled for LINGER_IDLE_MS');
  w.dispose();

  now = 0;
  const t2 = new FakeTorrent();
  const w2 = uploadWatch(t2 as never, () => now);
  t2.tick(1);
  const p2 = w2.linger(3000);
  for (let up = 2; now < 2750; up++) {
    now += 250;
    t2.tick(up);
  }
  assert.ok(!(await settled(p2)));
  now = 3000;
  t2.tick(t2.uploaded + 1);
  assert.ok(await settled(p2), 'at most maxMs');
  w2.dispose();
});
