import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { Gateway, type GatewayLogger, type GatewayOptions } from '../../src/gateway/index.js';

/** A gateway on a free loopback port, closed when the test ends; no file-check timer. */
export async function startGateway(t: TestContext, opts: GatewayOptions): Promise<Gateway> {
  const g = await Gateway.start({ host: '127.0.0.1', port: 0, checkEveryMs: 0, hashThreads: 2, ...opts });
  t.after(() => g.close());
  return g;
}

/** One raw HTTP/1.1 request with the target sent byte for byte (clients normalise `..` and `\`). */
export function rawRequest(port: number, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body: all.subarray(split + 4) });
    });
    const host = Object.keys(headers).some((k) => k.toLowerCase() === 'host') ? [] : ['Host: 127.0.0.1'];
    const lines = [`${method} ${target} HTTP/1.1`, ...host, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    s.end(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  });
}

/** The body of a raw `GET target` (`Connection: close`); `pause` holds the reading until it resolves, so that the server's socket fills up. */
export async function rawBody(port: number, target: string, pause?: Promise<void>): Promise<Buffer> {
  const s = connect(port, '127.0.0.1');
  s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  if (pause !== undefined) {
    s.pause();
    await pause;
    s.resume();
  }
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  const all = Buffer.concat(chunks);
  return all.subarray(all.indexOf('\r\n\r\n') + 4);
}

/** A logger that keeps every entry, for asserting what the gateway did. */
export function recordingLogger(): GatewayLogger & { entries: { level: string; obj: object; msg: string | undefined }[] } {
  const entries: { level: string; obj: object; msg: string | undefined }[] = [];
  const at = (level: string) => (obj: object, msg?: string): void => void entries.push({ level, obj, msg });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The torrent of a file (`URL?torrent`), waiting out the lazy hashing's 503s. */
export async function torrentOf(url: string): Promise<Uint8Array> {
  for (let i = 0; i < 200; i++) {
    const r = await request(`${url}?torrent`);
    if (r.statusCode === 200) return new Uint8Array(await r.body.arrayBuffer());
    await r.body.dump();
    assert.equal(r.statusCode, 503);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no torrent for ${url}`);
}

/**
 * Until serve sends `Repr-Digest` for `url`: the whole file's SHA-256 is made after the torrent (its
 * SHA-1 pieces), so a torrent answered does not mean a digest yet.
 */
export async function digestReady(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await request(url, { method: 'HEAD' });
    await r.body.dump();
    if (r.headers['repr-digest'] !== undefined) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no Repr-Digest for ${url}`);
}

/**
 * The `stallMs` of an in-process get in a test: well under the tests' own timeouts (30 s, 60 s), so that a
 * swarm or body that stops is the get's typed error naming it, not a cancelled test (the default, 60 s, is
 * as long as the test); above `SEED_NAMED_WEB_SEED_FALLBACK_MS` (10 s), which a swarm may wait without a byte.
 */
export const TEST_STALL_MS = 15_000;
