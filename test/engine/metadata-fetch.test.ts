/**
 * BEP 9 metadata exchange as state (`MetadataFetch`): which peers offered which size, which
 * 16 KiB pieces are asked of whom, and the assembled dict, verified against the info-hash before
 * it leaves. Pure: peers are names, time is a number, nothing is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataFetch, METADATA_FETCH_DEFAULTS } from '../../src/engine/index.js';
import { infoHashOf, parseTorrent } from '../../src/metainfo/index.js';
import { bytes, torrentBytes } from '../helpers/torrents.js';

const KIB16 = 16 * 1024;
/** An info dict of about 40 KB: three metadata pieces, the last one short. */
const dict = parseTorrent(torrentBytes({ name: 'm', 'piece length': KIB16, length: 2000 * KIB16, pieces: bytes(2000 * 20, 3) })).infoBytes;
const hash = infoHashOf(dict);
const SIZE = dict.length;
const piece = (i: number, d: Uint8Array = dict): Uint8Array => d.slice(i * KIB16, Math.min(d.length, (i + 1) * KIB16));

test('the dict: three pieces, the last one short (what the tests below assume)', () => {
  assert.ok(SIZE > 2 * KIB16 && SIZE < 3 * KIB16, `${SIZE}`);
});

test('offers: the first size is the one fetched; another waits aside; 0 and over the limit are refused', () => {
  const f = new MetadataFetch(hash, { maxMetadataBytes: SIZE + 1 });
  assert.equal(f.metadataSize, undefined);
  assert.equal(f.maxMetadataBytes, SIZE + 1);
  assert.equal(f.offer('big', SIZE + 2), 'tooLarge');
  assert.equal(f.offer('zero', 0), 'tooLarge');
  assert.equal(f.metadataSize, undefined, 'a refused offer sets no size');
  assert.deepEqual(f.nextRequests('big', 0), [], 'a refused peer is asked nothing');
  assert.equal(f.offer('a', SIZE), 'accepted');
  assert.equal(f.metadataSize, SIZE);
  assert.equal(f.offer('b', SIZE + 1), 'otherSize', 'at the limit: kept, but not the size fetched');
  assert.equal(f.offer('c', SIZE), 'accepted');
  assert.equal(f.usefulPeers, 2, 'a and c');
  assert.deepEqual(f.nextRequests('b', 0), [], 'a peer of another size is not asked');
  assert.equal(new MetadataFetch(hash).maxMetadataBytes, 8 * 1024 * 1024);
  assert.equal(new MetadataFetch(hash).offer('x', 1), 'accepted', 'one byte is a size');
});

test('requests: at most two pieces a peer, each asked of one peer until every piece is asked', () => {
  const f = new MetadataFetch(hash);
  assert.deepEqual(f.nextRequests('a', 0), [], 'before its offer');
  f.offer('a', SIZE);
  f.offer('b', SIZE);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1]);
  assert.deepEqual(f.nextRequests('a', 0), [], 'its two are out');
  assert.deepEqual(f.nextRequests('b', 0), [2, 0], 'the free piece, then (endgame) one asked once');
  assert.deepEqual(f.nextRequests('b', 0), []);
  f.offer('c', SIZE);
  assert.deepEqual(f.nextRequests('c', 0), [1, 2], 'endgame: only pieces asked of fewer than two peers');
  f.offer('d', SIZE);
  assert.deepEqual(f.nextRequests('d', 0), [], 'every piece asked twice');
  assert.deepEqual(f.nextRequests('nobody', 0), []);
});

test('a peer is never asked twice for one piece, even in endgame', () => {
  const f = new MetadataFetch(hash, { maxRequestsPerPeer: 5 });
  f.offer('a', SIZE);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1, 2], 'three pieces, not five');
  assert.deepEqual(f.nextRequests('a', 0), []);
});

test('pieces in order assemble the dict, which leaves only once it hashes to the info-hash', () => {
  const f = new MetadataFetch(hash, { maxRequestsPerPeer: 3 });
  f.offer('a', SIZE);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1, 2]);
  assert.deepEqual(f.onData('a', 2, piece(2)), { type: 'more' });
  assert.equal(f.receivedBytes, SIZE - 2 * KIB16);
  assert.deepEqual(f.onData('a', 0, piece(0)), { type: 'more' });
  assert.equal(f.receivedBytes, SIZE - KIB16);
  const v = f.onData('a', 1, piece(1));
  assert.equal(v.type, 'complete');
  assert.deepEqual(v.type === 'complete' ? v.infoBytes : undefined, dict);
});

test('data not asked for, from a stranger, or of the wrong length is ignored', () => {
  const f = new MetadataFetch(hash);
  f.offer('a', SIZE);
  f.offer('other', SIZE + 1);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1]);
  assert.deepEqual(f.onData('a', 2, piece(2)), { type: 'ignored' }, 'not asked of a');
  assert.deepEqual(f.onData('x', 0, piece(0)), { type: 'ignored' }, 'a stranger');
  assert.deepEqual(f.onData('other', 0, piece(0)), { type: 'ignored' }, 'a peer of another size');
  assert.deepEqual(f.onData('a', 0, piece(0).subarray(1)), { type: 'ignored' }, 'one byte short');
  assert.equal(f.receivedBytes, 0);
  // The short answer ended a's request for piece 0: it is free again and asked anew.
  assert.deepEqual(f.nextRequests('a', 0), [0]);
  assert.deepEqual(f.onData('a', 0, piece(0)), { type: 'more' });
  assert.equal(f.receivedBytes, KIB16);
  assert.deepEqual(f.onData('a', 0, piece(0)), { type: 'ignored' }, 'the same piece again, not asked');
  assert.equal(f.receivedBytes, KIB16, 'counted once');
});

test('endgame: the second copy of a piece is dropped, the dict assembles once', () => {
  const f = new MetadataFetch(hash);
  f.offer('a', SIZE);
  f.offer('b', SIZE);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1]);
  assert.deepEqual(f.nextRequests('b', 0), [2, 0]);
  assert.deepEqual(f.onData('a', 0, piece(0)), { type: 'more' });
  assert.deepEqual(f.onData('b', 0, piece(0)), { type: 'more' }, 'b was slower');
  assert.equal(f.receivedBytes, KIB16);
  assert.deepEqual(f.nextRequests('b', 0), [1], 'b has room again: piece 1, asked of a only');
  assert.deepEqual(f.onData('b', 2, piece(2)), { type: 'more' });
  const v = f.onData('b', 1, piece(1));
  assert.equal(v.type, 'complete');
  assert.deepEqual(f.onData('a', 1, piece(1)), { type: 'more' }, "a's late copy");
});

test('a dict that does not hash: every piece dropped, every sender a suspect, the next peer sets the size', () => {
  const bad = dict.slice();
  bad[KIB16 + 5]! ^= 1;
  const f = new MetadataFetch(hash);
  f.offer('a', SIZE);
  f.offer('b', SIZE);
  f.offer('liar-size', SIZE + 7); // waits aside
  f.offer('d', SIZE); // offered, never sent anything
  assert.deepEqual(f.nextRequests('a', 0), [0, 1]);
  assert.deepEqual(f.nextRequests('b', 0), [2, 0]);
  assert.deepEqual(f.onData('a', 0, piece(0, bad)), { type: 'more' });
  assert.deepEqual(f.onData('a', 1, piece(1, bad)), { type: 'more' });
  const v = f.onData('b', 2, piece(2, bad));
  assert.deepEqual(v, { type: 'hashMismatch', suspects: ['a', 'b'] }, 'each sender once');
  assert.deepEqual(f.nextRequests('a', 0), [], 'suspects are gone');
  assert.deepEqual(f.nextRequests('b', 0), []);
  assert.equal(f.receivedBytes, 0);
  assert.equal(f.metadataSize, SIZE + 7, "the size of the next remaining peer (its offer's order)");
  assert.equal(f.usefulPeers, 1);
  assert.deepEqual(f.nextRequests('liar-size', 0), [0, 1], 'asked from the start');
  assert.deepEqual(f.nextRequests('d', 0), [], 'd offered another size now');
});

test('after a mismatch with every peer a suspect, nothing is fetched until a new offer sets the size', () => {
  const bad = dict.slice();
  bad[0]! ^= 1;
  const f = new MetadataFetch(hash, { maxRequestsPerPeer: 3 });
  f.offer('a', SIZE);
  f.nextRequests('a', 0);
  f.onData('a', 0, piece(0, bad));
  f.onData('a', 1, piece(1, bad));
  assert.deepEqual(f.onData('a', 2, piece(2, bad)), { type: 'hashMismatch', suspects: ['a'] });
  assert.equal(f.metadataSize, undefined);
  assert.equal(f.usefulPeers, 0);
  assert.equal(f.allRejected, false, 'nobody left is not everybody refusing');
  assert.equal(f.offer('e', SIZE), 'accepted');
  assert.deepEqual(f.nextRequests('e', 0), [0, 1, 2]);
});

test('a mismatch forgets what the honest peers were asked: they are asked again from the start', () => {
  const bad = dict.slice();
  bad[0]! ^= 1;
  const f = new MetadataFetch(hash, { maxRequestsPerPeer: 3 });
  f.offer('liar', SIZE);
  f.offer('slow', SIZE);
  assert.deepEqual(f.nextRequests('liar', 0), [0, 1, 2]);
  assert.deepEqual(f.nextRequests('slow', 0), [0, 1, 2], 'endgame');
  f.onData('liar', 0, piece(0, bad));
  f.onData('liar', 1, piece(1, bad));
  assert.equal(f.onData('liar', 2, piece(2, bad)).type, 'hashMismatch');
  assert.deepEqual(f.nextRequests('slow', 0), [0, 1, 2], 'its old requests were cleared');
  f.onData('slow', 0, piece(0));
  f.onData('slow', 1, piece(1));
  assert.equal(f.onData('slow', 2, piece(2)).type, 'complete');
});

test('a reject frees the piece for others and the peer is never asked again', () => {
  const f = new MetadataFetch(hash);
  f.offer('a', SIZE);
  f.offer('b', SIZE);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1]);
  f.onReject('a', 2); // not asked of a: nothing happens
  assert.equal(f.usefulPeers, 2);
  assert.deepEqual(f.nextRequests('a', 0), []);
  f.onReject('x', 0); // a stranger
  f.onReject('a', 0);
  assert.equal(f.usefulPeers, 1);
  assert.equal(f.allRejected, false);
  assert.deepEqual(f.nextRequests('a', 0), [], 'a rejected');
  assert.deepEqual(f.nextRequests('b', 0), [0, 2], 'piece 0 is free again; 1 is still asked of a');
  assert.deepEqual(f.onData('a', 1, piece(1)), { type: 'more' }, 'what a had been asked still counts');
  f.onReject('b', 0);
  assert.equal(f.allRejected, true);
  assert.equal(f.usefulPeers, 0);
  assert.equal(new MetadataFetch(hash).allRejected, false, 'no peers at all');
});

test('a peer that leaves frees its pieces for the others', () => {
  const f = new MetadataFetch(hash);
  f.offer('a', SIZE);
  f.offer('b', SIZE);
  assert.deepEqual(f.nextRequests('a', 0), [0, 1]);
  assert.deepEqual(f.nextRequests('b', 0), [2, 0]);
  f.removePeer('a');
  f.removePeer('nobody');
  assert.equal(f.usefulPeers, 1);
  assert.deepEqual(f.onData('a', 1, piece(1)), { type: 'ignored' }, 'a is gone');
  f.offer('c', SIZE);
  assert.deepEqual(f.nextRequests('c', 0), [1, 0], '1 was asked of a only: free; 0 is now asked once');
});

test('requests unanswered for 10 s are freed; each late peer is named once', () => {
  const f = new MetadataFetch(hash);
  assert.equal(METADATA_FETCH_DEFAULTS.requestTimeoutMs, 10_000);
  f.offer('a', SIZE);
  f.offer('b', SIZE);
  assert.deepEqual(f.nextRequests('a', 1000), [0, 1]);
  assert.deepEqual(f.nextRequests('b', 5000), [2, 0]);
  assert.deepEqual(f.expire(10_999), [], 'not yet');
  assert.deepEqual(f.expire(11_000), ['a'], "a's two requests, one name");
  assert.deepEqual(f.nextRequests('a', 11_000), [1, 0], '1 is free again; 0 is asked of b only');
  assert.deepEqual(f.expire(15_000), ['b']);
  assert.deepEqual(f.expire(15_000), []);
  assert.deepEqual(f.nextRequests('b', 15_000), [2, 0]);
  const g = new MetadataFetch(hash, { requestTimeoutMs: 50 });
  g.offer('a', SIZE);
  g.nextRequests('a', 0);
  assert.deepEqual(g.expire(49), []);
  assert.deepEqual(g.expire(50), ['a']);
});
