/**
 * A plain body that ends early or stops coming: `get` fails with GATEWAY_GET_BAD_ANSWER naming how
 * much came and pointing at `-C -` (not GATEWAY_GET_FAILED, which is "cannot reach the server"),
 * and a body that stops for `stallMs` fails instead of hanging for ever. A slow reader of the
 * output is no stall.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { getUrl } from '../../src/gateway/index.js';
import { httpOrigin } from '../helpers/origin.js';
import { bytes, withTempDir } from '../helpers/torrents.js';

/** The URL of f.bin on a loopback origin answering with `handler`. */
const fileUrl = async (t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => `${await httpOrigin(t, handler)}/f.bin`;

const body = bytes(200_000, 9);

test('a body cut short: GATEWAY_GET_BAD_ANSWER with the bytes that came, which stay on disk for -C -', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    const url = await fileUrl(t, (_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 50_000), () => setTimeout(() => res.destroy(), 200));
    });
    const out = join(dir, 'f.bin');
    await assert.rejects(getUrl({ url, output: { kind: 'file', path: out }, plainOnly: true }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GATEWAY_GET_BAD_ANSWER', err.message);
      assert.match(err.message, /ended after 50000 of 200000 bytes: .*\(run again with -C - to continue\)$/);
      return true;
    });
    assert.deepEqual(readFileSync(out), Buffer.from(body.subarray(0, 50_000)));
  }));

test('a body that stops coming fails after stallMs instead of hanging; a slow reader of the output is no stall', { timeout: 30_000 }, (t) =>
  withTempDir(t, async (dir) => {
    let hang = true;
    const url = await fileUrl(t, (_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      if (hang) res.write(body.subarray(0, 10_000)); // and nothing more, the connection open
      else res.end(body);
    });
    await assert.rejects(getUrl({ url, output: { kind: 'file', path: join(dir, 'f.bin') }, plainOnly: true, stallMs: 1000 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GATEWAY_GET_BAD_ANSWER', err.message);
      assert.match(err.message, /ended after 10000 of 200000 bytes: no byte of the body for \d+ s/);
      return true;
    });
    // The whole body at once, to a reader that takes 2.5 s over its first chunk: paused for the
    // output is not stalled.
    hang = false;
    const got: Buffer[] = [];
    let first = true;
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _e, cb) {
        got.push(chunk);
        if (first) {
          first = false;
          setTimeout(cb, 2500);
        } else cb();
      },
    });
    const r = await getUrl({ url, output: { kind: 'stream', stream: slow }, plainOnly: true, stallMs: 1000 });
    assert.equal(r.status, 'complete');
    assert.deepEqual(Buffer.concat(got), Buffer.from(body));
  }));
