/**
 * The one loader of undici, the proxy's HTTP client (a `get`, HTTP and JSON trackers use node's
 * own, `nodeGet`; web seeds and HTTP peers the transport's, http1-pool.ts), and the HTTP helpers
 * those clients share (`Retry-After`, `Content-Range`, TLS options). It lives in the lowest layer that speaks
 * HTTP; `transport/http-fetch.ts` re-exports it. A public surface beside `index.ts` (see
 * test/layers.test.ts) so that loading it does not compile the rest of the tracker.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, InformationEvent, RequestOptions } from 'node:http';
import { createRequire, Module } from 'node:module';
import type { Socket } from 'node:net';
import type { buildConnector, Dispatcher } from 'undici';

/** undici's own CommonJS files, resolved from here (one `require` for this module). */
const require = createRequire(import.meta.url);

/** The part of undici this project uses: its dispatchers and `request`. */
export type Undici = Pick<typeof import('undici'), 'Agent' | 'Pool' | 'request'>;

/** undici's HTTP/2 half: its `Client` loads it at once, and calls it only for a connection that negotiated h2. */
const CLIENT_H2 = 'undici/lib/dispatcher/client-h2.js';

/**
 * undici's HTTP/2 half (`lib/dispatcher/client-h2.js`, and with it node's `http2`) loaded only
 * when a connection first speaks h2. undici's `Client` requires it when it loads, but calls its one
 * export, `connectH2(client, socket)`, only for a TLS connection whose ALPN chose h2 (`allowH2`),
 * which nothing in torrenttp asks for. So, before any of undici is loaded, node's module cache
 * gets, under that file's name, a module whose export loads the real one at its first call and
 * hands over to it: the same behaviour, ~1.2 MiB less resident memory (JavaScript heap, node's
 * http2 code) in every process with an HTTP peer or a web seed (docs/torrenttp.md §18). Nothing is
 * done when undici's files are laid out otherwise, or the file is loaded already.
 */
export function deferHttp2(): void {
  if (http2Deferred) return;
  http2Deferred = true;
  standIn(CLIENT_H2, (path, stand) => {
    let real: ((...args: unknown[]) => unknown) | undefined;
    stand.exports = function connectH2(this: unknown, ...args: unknown[]): unknown {
      if (real === undefined) {
        if (require.cache[path] === stand) delete require.cache[path];
        real = require(path) as (...args: unknown[]) => unknown;
      }
      return real.apply(this, args);
    };
  });
}
let http2Deferred = false;

/** undici's parser as WebAssembly: each file's export is the module's bytes, which its `Client` compiles once a process. */
const LLHTTP_WASM = ['undici/lib/llhttp/llhttp_simd-wasm.js', 'undici/lib/llhttp/llhttp-wasm.js'];
/** How those files hold the bytes: one base64 literal. */
const WASM_BASE64 = /\bconst wasmBase64 = '([A-Za-z0-9+/]+={0,2})'/;

/**
 * undici's parser bytes (`lib/llhttp/llhttp_simd-wasm.js`, the plain build's too), given to its
 * compile and then dropped. Each of those files keeps, for the life of the process, its source
 * (72 KB), the same base64 as a string (72 KB) and the bytes decoded from it (54 KB), though
 * undici reads them once, to compile llhttp at its first connection (V8 keeps its own copy in the
 * compiled module). So, as for `deferHttp2`, node's module cache gets under each file's name a
 * module whose export decodes the file's base64 at each read and keeps nothing: ~0.2 MiB less in
 * every process with an HTTP peer or a web seed. A file laid out otherwise is loaded as it is.
 */
export function dropLlhttpBytes(): void {
  if (llhttpDropped) return;
  llhttpDropped = true;
  for (const name of LLHTTP_WASM) {
    standIn(name, (path, stand) => Object.defineProperty(stand, 'exports', { configurable: true, enumerable: true, get: () => llhttpBytes(path, stand) }));
  }
}
let llhttpDropped = false;

/**
 * A module of ours in node's module cache under undici's file `name`, its exports set by
 * `setExports` (the file's path and the module): what undici's own `require` of that file then
 * gets. Nothing is done when the file is not where expected, or is loaded already.
 */
function standIn(name: string, setExports: (path: string, stand: Module) => void): void {
  let path: string;
  try {
    path = require.resolve(name);
  } catch {
    return;
  }
  if (require.cache[path] !== undefined) return;
  const stand = new Module(path);
  stand.filename = path;
  stand.loaded = true;
  setExports(path, stand);
  require.cache[path] = stand;
}

/** The parser's bytes from `path`'s base64, kept by nobody; undici's own module if the file is not as expected. */
function llhttpBytes(path: string, stand: Module): unknown {
  let m: RegExpExecArray | null = null;
  try {
    m = WASM_BASE64.exec(readFileSync(path, 'latin1'));
  } catch {
    // unreadable: the real module says why
  }
  if (m !== null) return Buffer.from(m[1]!, 'base64');
  if (require.cache[path] === stand) delete require.cache[path];
  return require(path) as unknown;
}

let undiciModule: Promise<Undici> | undefined;
/**
 * undici, loaded on first use: most processes never speak HTTP. Only the dispatchers and
 * `request` (`loadUndiciCore`), not undici's index: that also compiles fetch, WebSocket,
 * EventSource, the caches and the mocks, and wakes node's own bundled copy of undici, ~0.15 s of
 * CPU for every `torrenttp get` (a third of the start-up of a small download) and before the
 * first announce of every download.
 */
export const loadUndici = (): Promise<Undici> => (undiciModule ??= loadUndiciCore());

interface DispatcherModule {
  readonly prototype: object;
}
type GetGlobalDispatcher = () => Dispatcher;

/**
 * undici's `Agent`, `Pool` and `request` from its own modules, wired the way its index wires them
 * (the API methods on `Dispatcher.prototype`; `request(url, opts)` over `opts.dispatcher` or, by
 * default, an `Agent` of ours that skips interim answers). These are the same objects `import('undici')` gives. A layout this does not know
 * (another major version) falls back to the whole package.
 *
 * Loaded with `require`, not `import()`: node 20 runs a CommonJS file imported from an ES
 * module, and every file it requires, through the ES loader, which scans each one's source for
 * its export names (cjs-module-lexer, in JavaScript) and wraps it in a module record. Over
 * undici's ~20 files that scan got hot enough for V8 to optimise it in the middle of a download
 * (6.7 MiB of compiler memory for a moment: a 1 GiB HTTP leech's `peak_malloced_memory` was
 * 7.5 MiB, 3.2–3.6 with `require`). test/transport/http-fetch.test.ts checks that no undici file
 * goes through the ES loader.
 */
export async function loadUndiciCore(): Promise<Undici> {
  let core: Undici;
  deferHttp2();
  dropLlhttpBytes();
  try {
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as DispatcherModule;
    Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object);
    const { getGlobalDispatcher } = require('undici/lib/global.js') as { getGlobalDispatcher: GetGlobalDispatcher };
    const AgentClass = require('undici/lib/dispatcher/agent.js') as Undici['Agent'];
    const buildConnector = requireBuildConnector();
    // Not undici's global Agent but ours, whose connections skip interim (1xx) answers
    // (`skippingInterim`): unless a program using this library set a global dispatcher of its own
    // since (a proxy agent), which is then used as before.
    // Its connections take the process's TLS options (`setClientTls`: `get -k`, `--cacert`), as of
    // its first request since they were set.
    const initial = getGlobalDispatcher();
    let ours: { readonly agent: Dispatcher; readonly tls: ClientTls } | undefined;
    const defaultDispatcher = (): Dispatcher => {
      const global = getGlobalDispatcher();
      if (global !== initial || buildConnector === undefined) return global;
      if (ours?.tls !== clientTls) {
        void ours?.agent.close();
        ours = { agent: new AgentClass({ connect: skippingInterim(buildConnector({ ...clientTls })) }), tls: clientTls };
      }
      return ours.agent;
    };
    const request = (url: string | URL, opts: Parameters<Undici['request']>[1] = {}): ReturnType<Undici['request']> => {
      const u = new URL(url);
      const { dispatcher = defaultDispatcher(), ...rest } = opts as { dispatcher?: Dispatcher } & Dispatcher.RequestOptions;
      return dispatcher.request({ ...rest, origin: u.origin, path: `${u.pathname}${u.search}`, method: rest.method ?? 'GET' });
    };
    core = {
      Agent: AgentClass,
      Pool: require('undici/lib/dispatcher/pool.js') as Undici['Pool'],
      request: request as Undici['request'],
    };
    if (typeof core.Agent !== 'function' || typeof core.Pool !== 'function' || typeof (Dispatcher.prototype as { request?: unknown }).request !== 'function') throw new Error('unknown undici layout');
  } catch {
    core = await import('undici');
  }
  return core;
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in ms from `nowMs` (never
 * negative); undefined when absent or unreadable. The one parser of the header, for every layer's
 * HTTP client (ttp-piece.ts's `retryAfterMs`; web seeds and HTTP peers through
 * transport/http-fetch.ts); here, beside the loader, so that a plain `get` can load it without
 * the rest of the tracker.
 */
export function parseRetryAfter(header: string | undefined, nowMs = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const t = header.trim();
  if (/^[0-9]{1,9}$/.test(t)) return Number(t) * 1000;
  const at = t.length <= 64 ? Date.parse(t) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The wait a 429/503 asks for: its `Retry-After`, `defaultMs` when absent or unreadable, at most `maxMs`. */
export function retryAfterDelay(value: string | undefined, defaultMs: number, maxMs: number, now = Date.now()): number {
  const ms = parseRetryAfter(value, now);
  return ms === undefined ? defaultMs : Math.min(ms, maxMs);
}

/**
 * An answer's `Content-Range` (RFC 9110 §14.4): `bytes first-last/complete` (`complete`
 * undefined for `*`) or a 416's `bytes *\/complete`. Undefined when absent or malformed:
 * over 100 characters, over 16 digits, `last` before `first`, or `last` past `complete`. The one
 * reader of the header for a get, a web seed, an HTTP peer and the proxy.
 */
export type ContentRange = { readonly first: number; readonly last: number; readonly complete: number | undefined } | { readonly unsatisfied: true; readonly complete: number };

export function readContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined || value.length > 100) return undefined;
  const m = /^bytes (?:([0-9]{1,16})-([0-9]{1,16})|(\*))\/([0-9]{1,16}|\*)$/.exec(value.trim());
  if (m === null) return undefined;
  const complete = m[4] === '*' ? undefined : Number(m[4]);
  if (m[3] !== undefined) return complete === undefined ? undefined : { unsatisfied: true, complete };
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (last < first || (complete !== undefined && last >= complete)) return undefined;
  return { first, last, complete };
}

/**
 * TLS options of every client connection this process makes over https (`get -k`, `--cacert`):
 * `nodeGet`'s (a get's negotiation and plain body, HTTP and JSON trackers), the transport's
 * own client's (http1-pool.ts: web seeds, HTTP peers), undici's connectors made after it is set
 * (`interimSkippingConnector`) and those of `request`'s default dispatcher (`loadUndiciCore`).
 * Process-wide, because those connections are made deep in the engine, for one command: set it
 * before the first request.
 */
export interface ClientTls {
  /** The CAs trusted instead of node's (curl's `--cacert`). */
  readonly ca?: Buffer;
  /** false: no certificate check (curl's `-k`). */
  readonly rejectUnauthorized?: boolean;
}
let clientTls: ClientTls = {};
export function setClientTls(tls: ClientTls): void {
  clientTls = tls;
}
/** The TLS options `setClientTls` set, for a connection made without undici (transport/http1-pool.ts). */
export function getClientTls(): ClientTls {
  return clientTls;
}

/**
 * One GET (or `options.method`: `get -I`'s HEAD, the JSON tracker's POST with `options.body`) with node's own HTTP client, where undici is not wanted (a lone `torrenttp get`
 * compiles no undici: its loading and its parser's WebAssembly were ~45 ms of that get's CPU;
 * docs/cli.md, "get against curl"). `node:https`, and TLS with it, is loaded only for an https
 * URL. Resolves at the answer's head; the caller reads or drops the body. `onInterim` is told
 * each interim answer (1xx) before it, which node otherwise skips.
 */
export async function nodeGet(url: URL, options: RequestOptions & { readonly body?: string }, onInterim?: (info: InformationEvent) => void): Promise<IncomingMessage> {
  const https = url.protocol === 'https:';
  const mod = https ? await import('node:https') : await import('node:http');
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    // An https connection that fails before its handshake is done (reset, closed): the handshake's
    // failure (`TLS_HANDSHAKE_FAILED`, its cause under it), not a receive error.
    let handshaking = false;
    const req = mod.request(url, { ...(https ? clientTls : {}), ...rest, method: rest.method ?? 'GET' }, (res) => {
      // A reset under the body fails it with the reset (`read ECONNRESET`), which node reports on
      // the request only; the body alone would say `aborted`, as for a connection closed early.
      req.on('error', (err) => {
        if (!res.complete) res.destroy(err);
      });
      resolve(res);
    });
    if (onInterim !== undefined) req.on('information', onInterim);
    if (https) {
      req.once('socket', (socket) => {
        if (req.reusedSocket) return;
        handshaking = true;
        socket.once('secureConnect', () => (handshaking = false));
      });
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (handshaking && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        reject(Object.assign(new Error(`TLS handshake: ${err.message}`, { cause: err }), { code: TLS_HANDSHAKE_FAILED }));
      } else {
        reject(err);
      }
    });
    req.end(body);
  });
}

/** The `code` of `nodeGet`'s error for an https connection reset or closed before its TLS handshake was done (curl's 35). */
export const TLS_HANDSHAKE_FAILED = 'ERR_TLS_HANDSHAKE_FAILED';

/**
 * Interim answers (1xx), skipped. RFC 9110 §15.2: a client must be able to parse one or more 1xx
 * responses before the final one, even one it did not expect. undici passes 102 and 103 (Early
 * Hints) over, but fails a request on any `100 Continue` it did not ask for ('bad response',
 * client-h1.js), and a server may send one unasked (some answer every request with it). So each
 * connection of ours drops every interim head (any 1xx but 101) that starts an answer before
 * undici's parser sees it (`InterimFilter`); node's own client (`nodeGet`) skips them itself.
 */
export async function interimSkippingConnector(opts: { timeout?: number } = {}): Promise<buildConnector.connector> {
  const build = requireBuildConnector() ?? (await import('undici')).buildConnector;
  return skippingInterim(build({ ...clientTls, ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }) }));
}

/** undici's `buildConnector` from its own module, as `loadUndiciCore` takes the rest; undefined for a layout this does not know. */
function requireBuildConnector(): typeof import('undici').buildConnector | undefined {
  try {
    const build = require('undici/lib/core/connect.js') as unknown;
    return typeof build === 'function' ? (build as typeof import('undici').buildConnector) : undefined;
  } catch {
    return undefined;
  }
}

/** `connector`'s sockets, each with an `InterimFilter` on what it reads. */
export function skippingInterim(connector: buildConnector.connector): buildConnector.connector {
  return (o, callback) =>
    connector(o, (err, socket) => {
      if (err === null && socket !== null) filterInterim(socket as Socket);
      (callback as (e: Error | null, s: unknown) => void)(err, socket);
    });
}

/**
 * Installs an `InterimFilter` between `socket`'s reads and its readers: each request written
 * starts an answer; what is read then goes through the filter before it is pushed into the stream.
 */
export function filterInterim(socket: Socket): void {
  const filter = new InterimFilter();
  const push = socket.push.bind(socket);
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    filter.wrote(chunk);
    return write(chunk, ...rest);
  }) as Socket['write'];
  socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) {
      const held = filter.flush();
      if (held !== undefined) push(held);
      return push(null);
    }
    const out = filter.read(chunk as Uint8Array);
    return out === undefined ? true : push(out, encoding);
  };
}

/** Longest interim head held back while it is read; a longer one goes to the parser as it is. */
const MAX_INTERIM_HEAD = 16 * 1024;
/** A write that starts a request: a method, a space, a target, ` HTTP/1.x` and the line's end within this. */
const METHOD_START = /^[A-Z]{3,10} [^ \r\n]/;
const MAX_REQUEST_LINE = 64 * 1024;
const INTERIM = /^HTTP\/1\.[01] 1[0-9][0-9][ \r]/;
/** The fixed characters of an interim status line's first 10 (the minor version, index 7, is 0 or 1). */
const INTERIM_START = 'HTTP/1.1 1';

/**
 * Pure: drops interim answers (1xx but 101 Switching Protocols, each through its blank line) at
 * the start of an answer, byte streams in, byte streams out. An answer starts when a request
 * line is written (one request at a time on a connection: undici's default pipelining of 1), and
 * ends, for this, at its first byte that cannot begin an interim head: bytes of a body are never
 * looked at, so a body that holds such text passes as it is.
 */
export class InterimFilter {
  /** Reading the start of an answer: interim heads are dropped here. */
  private atHead = false;
  private held: Buffer | undefined;

  /** A request (or part of one) was written: an answer starting with its request line is due. */
  wrote(chunk: unknown): void {
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : undefined;
    if (text === undefined) return;
    const start = typeof text === 'string' ? text.slice(0, 12) : text.subarray(0, 12).toString('latin1');
    if (!METHOD_START.test(start)) return;
    const eol = text.indexOf('\r\n');
    if (eol < 0 || eol > MAX_REQUEST_LINE) return;
    const tail = typeof text === 'string' ? text.slice(Math.max(0, eol - 9), eol) : text.subarray(Math.max(0, eol - 9), eol).toString('latin1');
    if (/^ HTTP\/1\.[01]$/.test(tail)) this.atHead = true;
  }

  /** What of `chunk` the parser gets (undefined: nothing yet). */
  read(chunk: Uint8Array): Uint8Array | undefined {
    if (!this.atHead && this.held === undefined) return chunk;
    let buf = this.held === undefined ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([this.held, chunk]);
    this.held = undefined;
    for (;;) {
      const start = buf.subarray(0, 13).toString('latin1');
      if (!couldBeInterim(start)) {
        this.atHead = false;
        return buf.length === 0 ? undefined : buf;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (start.length < 13 || end < 0) {
        if (buf.length > MAX_INTERIM_HEAD) {
          this.atHead = false;
          return buf;
        }
        this.held = Buffer.from(buf); // a copy: the read's buffer may be reused
        return undefined;
      }
      if (start.startsWith('101', 9)) {
        this.atHead = false;
        return buf;
      }
      buf = buf.subarray(end + 4);
      if (buf.length === 0) return undefined;
    }
  }

  /** Bytes held back when the stream ends (an interim head cut short): the parser's to refuse. */
  flush(): Buffer | undefined {
    const h = this.held;
    this.held = undefined;
    return h;
  }
}

/** Whether `s` (an answer's first bytes, up to 13) may be the start of an interim head. */
function couldBeInterim(s: string): boolean {
  if (s.length >= 13) return INTERIM.test(s);
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const ok = i === 7 ? c === '0' || c === '1' : i === 10 || i === 11 ? c >= '0' && c <= '9' : i === 12 ? c === ' ' || c === '\r' : c === INTERIM_START[i];
    if (!ok) return false;
  }
  return true;
}
