/**
 * The layer rule from DESIGN.md, enforced: a file in src/<layer>/ may import only from its own
 * layer or from a lower layer's `index.ts` (its one public surface), never from a higher layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = [
  'errors', 'bencode', 'metainfo', 'storage', 'wire', 'tracker', 'transport', 'dht', 'engine', 'gateway', 'cli',
] as const;

/**
 * Public surfaces besides `index.ts`, each a subset of it that loads less: `gateway/client.js` is
 * the client half (`torrenttp get`), so a download does not compile the web server;
 * `metainfo/hash-pieces.js` is the piece hasher alone, for storage's disk threads, each of which
 * loads it (the whole metainfo layer took a thread twice as long to start);
 * `transport/http-fetch.js` is the HTTP client alone, so a plain `get` does not compile the wire
 * protocol and, through the tracker client, the tracker server (`transport/peer-address.js`, host:port
 * helpers, for the same reason); `tracker/undici.js` loads undici;
 * `metainfo/media-type.js` names the JSON metainfo type and the metainfo size limit without
 * compiling the parsers.
 * `transport/web-seed-url.js` is a web seed's file URL alone, for a lone get's stream
 * (`gateway/lone-stream.js`), which connects to the origin before the engine is compiled, and
 * `transport/tls-connect.js` that connection over https (the transport's http1 pool makes its
 * own the same way).
 * `storage/folders.js` is `makeFolders` alone (a `mkdir -p` that ends where node's spins), for a
 * plain `get`'s output folder. `tracker/client.js` is the tracker layer without its server (codecs
 * and clients but UDP's), for the engine and the transport: a download does not compile the tracker
 * server, nor BEP 15 until a udp:// tracker is announced to. `wire/lite.js` is what the engine, the
 * transport's listener and dialer and the CLI name of the wire layer (its errors, whether MSE is
 * available, PEX and metadata constants) without its codecs, so a TorrentTTP-only download does not
 * compile them.
 */
const EXTRA_SURFACES: Readonly<Record<string, readonly string[]>> = {
  gateway: ['client.js'],
  metainfo: ['hash-pieces.js', 'media-type.js'],
  storage: ['folders.js'],
  wire: ['lite.js'],
  transport: ['http-fetch.js', 'peer-address.js', 'web-seed-url.js', 'tls-connect.js'],
  tracker: ['undici.js', 'client.js'],
};

const root = resolve(fileURLToPath(import.meta.url), '../../../src');

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (name.endsWith('.ts')) yield p;
  }
}

test('src layers import only lower layers, through their index', () => {
  const problems: string[] = [];
  for (const file of tsFiles(root)) {
    const rel = relative(root, file).split(sep);
    if (rel.length < 2) continue; // src/index.ts re-exports every layer
    const layer = rel[0]!;
    const rank = LAYERS.indexOf(layer as (typeof LAYERS)[number]);
    if (rank < 0) {
      problems.push(`${rel.join('/')}: folder ${layer} is not a DESIGN.md layer`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(file, '..', spec)).split(sep);
      const other = target[0]!;
      if (other === layer) continue;
      const otherRank = LAYERS.indexOf(other as (typeof LAYERS)[number]);
      if (otherRank < 0 || otherRank >= rank) problems.push(`${rel.join('/')}: imports higher layer ${spec}`);
      else if (target.length !== 2 || (target[1] !== 'index.js' && !(EXTRA_SURFACES[other] ?? []).includes(target[1]!))) problems.push(`${rel.join('/')}: imports ${spec}, not ${other}/index.js`);
    }
  }
  assert.deepEqual(problems, []);
});

/** Every src module `entry` loads through static imports (dynamic `import()` is on demand). */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(root, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type\b)?[^'"]*?from\s*['"](\.[^'"]+)['"]/g)) {
      if (m[2] !== undefined) continue; // import type: erased
      todo.push(resolve(file, '..', m[3]!.replace(/\.js$/, '.ts')));
    }
  }
  return new Set([...seen].map((f) => relative(root, f).split(sep).join('/')));
}

test('a plain `get` compiles neither the engine, the wire protocol, the tracker nor the metainfo parsers (start-up is part of its time)', () => {
  const loaded = [...staticGraph('cli/commands/get.ts')];
  const heavy = loaded.filter((f) => !['transport/http-fetch.ts', 'transport/peer-address.ts', 'tracker/undici.ts', 'metainfo/media-type.ts', 'storage/folders.ts', 'storage/errors.ts'].includes(f) && /^(engine|wire|tracker|storage|dht|transport|metainfo|bencode)\//.test(f));
  assert.deepEqual(heavy, []);
  assert.ok(loaded.includes('gateway/plain-get.ts') && loaded.includes('transport/http-fetch.ts'), loaded.join(' '));
});

test('a swarm download compiles no tracker server: the engine and the transport load the tracker through tracker/client.js (and UDP only at a udp:// announce)', () => {
  const loaded = [...staticGraph('engine/index.ts')];
  assert.deepEqual(loaded.filter((f) => f.startsWith('tracker/server/') || f === 'tracker/index.ts' || f === 'tracker/udp.ts' || f === 'tracker/client/udp-client.ts'), []);
  assert.ok(loaded.includes('tracker/client/announcer.ts'), 'the announcer is there');
});

test("a swarm get makes its disk pool before it compiles the engine: swarm-get.ts loads the engine on demand, after the pool", () => {
  const loaded = [...staticGraph('gateway/swarm-get.ts')];
  const loaders = ['transport/http-fetch.ts', 'transport/peer-address.ts', 'tracker/undici.ts']; // undici's loader, not undici
  assert.deepEqual(loaded.filter((f) => (/^(engine|wire|tracker|transport|dht)\//.test(f) && !loaders.includes(f)) || f === 'gateway/lone-stream.ts'), []);
  const text = readFileSync(resolve(root, 'gateway/swarm-get.ts'), 'utf8');
  const pool = text.indexOf('new DiskPool(');
  const engine = text.indexOf("import('../engine/index.js')");
  assert.ok(pool > 0 && engine > pool, 'the pool is made before the engine is imported');
});

test('the engine compiles the wire protocol\'s connection code only at its first wire dial or incoming connection (transport/wire-lazy.ts): a TorrentTTP-only download never does', () => {
  const loaded = [...staticGraph('engine/index.ts')];
  const wire = ['transport/wire-connect.ts', 'transport/wire-peer.ts', 'transport/mse-stream.ts', 'transport/cipher-pool.ts', 'transport/pipeline.ts', 'transport/socket-chunks.ts'];
  assert.deepEqual(loaded.filter((f) => wire.includes(f)), []);
  assert.ok(loaded.includes('transport/wire-lazy.ts') && loaded.includes('transport/http-peer.ts'), loaded.join(' '));
  const lazy = readFileSync(resolve(root, 'transport/wire-lazy.ts'), 'utf8');
  assert.match(lazy, /import\('\.\/wire-connect\.js'\)/, 'wire-lazy.ts loads wire-connect.js on demand');
});

test("a TorrentTTP-only download compiles none of the wire layer's codecs: the engine, the transport and the CLI name what they need from wire/lite.js; wire/index.js loads with a wire or metadata connection (wire-lazy.ts)", () => {
  const lite = ['wire/lite.ts', 'wire/errors.ts', 'wire/mse-crypto.ts', 'wire/ut-pex.ts', 'wire/ut-metadata.ts', 'wire/extension.ts'];
  for (const entry of ['cli/commands/transfer.ts', 'engine/index.ts']) {
    const loaded = [...staticGraph(entry)];
    assert.deepEqual(loaded.filter((f) => (f.startsWith('wire/') && !lite.includes(f)) || f === 'transport/metadata-peer.ts' || f === 'transport/extensions.ts'), [], entry);
  }
  const lazy = readFileSync(resolve(root, 'transport/wire-lazy.ts'), 'utf8');
  assert.match(lazy, /import\('\.\/metadata-peer\.js'\)/, 'wire-lazy.ts loads metadata-peer.js on demand');
});

test('download and seed compile the gateway only for --http-port and the DHT only without --no-dht: transfer.ts loads each on demand, and no tracker server', () => {
  const loaded = [...staticGraph('cli/commands/transfer.ts')];
  assert.deepEqual(loaded.filter((f) => /^(gateway|dht)\//.test(f) || f.startsWith('tracker/server/') || f === 'tracker/index.ts' || f === 'transport/wire-connect.ts'), []);
  const text = readFileSync(resolve(root, 'cli/commands/transfer.ts'), 'utf8');
  assert.ok(text.includes("import('../../gateway/index.js')") && text.includes("import('../../dht/index.js')"), 'transfer.ts imports the gateway and the DHT on demand');
});
