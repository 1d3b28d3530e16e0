/**
 * A get's disk threads by the file's size (swarm-get.ts `diskThreadsFor`): one up to
 * ONE_DISK_THREAD_MAX_BYTES (a thread's start costs more than it saves on a small file), two
 * beyond. Fault checked once: `diskThreadsFor` returning GET_DISK_THREADS for every size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskThreadsFor, GET_DISK_THREADS, ONE_DISK_THREAD_MAX_BYTES } from '../../src/gateway/swarm-get.js';

test('a small get has one disk thread, a large one GET_DISK_THREADS', () => {
  assert.equal(GET_DISK_THREADS, 2);
  assert.equal(diskThreadsFor(2 * 1024 * 1024), 1);
  assert.equal(diskThreadsFor(ONE_DISK_THREAD_MAX_BYTES), 1);
  assert.equal(diskThreadsFor(ONE_DISK_THREAD_MAX_BYTES + 1), 2);
  assert.equal(diskThreadsFor(256 * 1024 * 1024), 2);
});
