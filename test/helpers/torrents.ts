import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { encode, type Encodable } from '../../src/bencode/index.js';

/** Builds a .torrent from a literal info dict, computing `pieces` from `data` unless given. */
export function torrentBytes(info: Record<string, Encodable | undefined>, root: Record<string, Encodable | undefined> = {}): Uint8Array {
  return encode({ ...root, info });
}

export function piecesOf(data: Uint8Array, pieceLength: number): Uint8Array {
  const n = Math.ceil(data.length / pieceLength);
  const out = new Uint8Array(n * 20);
  for (let i = 0; i < n; i++) {
    out.set(createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest(), i * 20);
  }
  return out;
}

export function sha1Hex(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex');
}

/**
 * A temp folder removed when `fn` ends; given the test's context, removed only after every
 * `t.after` hook `fn` registered (a client closed there may still write its last resume save,
 * and hooks run in the order they were registered, so the removal is registered last).
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T>;
export async function withTempDir<T>(t: TestContext, fn: (dir: string) => Promise<T>): Promise<T>;
export async function withTempDir<T>(a: TestContext | ((dir: string) => Promise<T>), b?: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'torrenttp-test-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  if (typeof a === 'function') {
    try {
      return await a(dir);
    } finally {
      remove();
    }
  }
  try {
    return await b!(dir);
  } finally {
    a.after(remove);
  }
}

/** Deterministic pseudo-random bytes (tests must not depend on luck). */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
