/**
 * Shared fast-check arbitraries and helpers for the wire tests (not a test file itself).
 */
import fc from 'fast-check';
import { WireDecoder, encodeMessages, type PieceGeometry, type WireDecoderOptions, type WireMessage } from '../../src/wire/index.js';

export const u32 = fc.integer({ min: 0, max: 0xffffffff });

// fc.record builds null-prototype objects; spread them so deepStrictEqual sees plain objects.
export const handshakeArb: fc.Arbitrary<WireMessage> = fc
  .record({
    reserved: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    infoHash: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    peerId: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  })
  .map((h): WireMessage => ({ type: 'handshake', ...h }));

/** Any message except handshake and bitfield, valid under the default limits and no geometry. */
export const messageArb: fc.Arbitrary<WireMessage> = fc.oneof(
  fc.constantFrom<WireMessage>(
    { type: 'keepAlive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'notInterested' },
  ),
  u32.map((index): WireMessage => ({ type: 'have', index })),
  fc
    .record({ type: fc.constantFrom('request' as const, 'cancel' as const), index: u32, begin: u32, length: fc.integer({ min: 1, max: 16384 }) })
    .map((m): WireMessage => ({ ...m })),
  fc.record({ index: u32, begin: u32, block: fc.uint8Array({ minLength: 1, maxLength: 80 }) }).map((m): WireMessage => ({ type: 'piece', ...m })),
  fc.integer({ min: 0, max: 0xffff }).map((port): WireMessage => ({ type: 'port', port })),
  fc
    .record({ id: fc.integer({ min: 10, max: 255 }), payload: fc.uint8Array({ maxLength: 40 }) })
    .map((m): WireMessage => ({ type: 'unknown', ...m })),
);

export const bitfieldArb: fc.Arbitrary<WireMessage> = fc
  .uint8Array({ maxLength: 40 })
  .map((bitfield): WireMessage => ({ type: 'bitfield', bitfield }));

/** A valid stream: handshake, optionally a bitfield, then anything but a bitfield. */
export const streamArb: fc.Arbitrary<WireMessage[]> = fc
  .tuple(handshakeArb, fc.option(bitfieldArb, { nil: undefined }), fc.array(messageArb, { maxLength: 25 }))
  .map(([hs, bf, rest]) => (bf === undefined ? [hs, ...rest] : [hs, bf, ...rest]));

/** Cut points (sorted, unique) for splitting `n` bytes into chunks; empty chunks included. */
export function cutsArb(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: n }), { maxLength: 30 }).map((cuts) => [...cuts].sort((a, b) => a - b));
}

export function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of cuts) {
    chunks.push(bytes.slice(from, c)); // copies, so a view into the wrong chunk cannot pass by accident
    from = c;
  }
  chunks.push(bytes.slice(from));
  return chunks;
}

export function trickle(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.slice(i, i + 1));
  return chunks;
}

export function decodeChunks(chunks: readonly Uint8Array[], opts?: WireDecoderOptions): WireMessage[] {
  const d = new WireDecoder(opts);
  const out: WireMessage[] = [];
  for (const c of chunks) out.push(...d.push(c));
  return out;
}

/** The outcome of decoding, comparable across chunkings: messages, or the error's identity. */
export function outcome(chunks: readonly Uint8Array[], opts?: WireDecoderOptions): unknown {
  try {
    return { messages: decodeChunks(chunks, opts) };
  } catch (err) {
    const e = err as { code?: unknown; offset?: unknown; messageId?: unknown };
    return { code: e.code, offset: e.offset, messageId: e.messageId };
  }
}

export function geometry(pieceCount: number, pieceBytes: number, lastPieceBytes = pieceBytes): PieceGeometry {
  return { pieceCount, pieceLengthOf: (i) => (i === pieceCount - 1 ? lastPieceBytes : pieceBytes) };
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function streamBytes(messages: readonly WireMessage[]): Uint8Array {
  return encodeMessages(messages);
}
