import { stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { DhtNode } from '../../dht/index.js';
import { Client, type AddOptions, type Torrent } from '../../engine/index.js';
import { TorrenttpError } from '../../errors/index.js';
import { mseAvailable } from '../../wire/lite.js';
import { encodeTorrent, type Magnet, type Metainfo } from '../../metainfo/index.js';
import { makeFolders, NAME_MAX_BYTES, StorageError } from '../../storage/index.js';
import type { CliContext } from '../context.js';
import { formatDuration } from '../format.js';
import { loadInput } from '../load.js';
import { duration, hostName, listenAddress, peerAddress, peerAddressOrUrl, port, positiveNumber, rate, repeatable } from '../options.js';
import { ENCRYPTION_HELP, encryptionPolicy } from '../encryption-option.js';
import { peersText, Reporter } from '../report.js';
import { withPortHint } from '../port-in-use.js';
import { selectFilesOrUsageError } from '../select.js';
import { readTls, type Tls } from '../tls.js';

/**
 * `download` and `seed`: one Client, one torrent, progress and diagnostics through `Reporter`,
 * and a clean stop on Ctrl-C or SIGTERM at any moment (even while the data is checked): the
 * trackers hear `stopped` and the resume state is saved before exit. A second signal exits at once.
 */
interface TransferFlags {
  output?: string;
  peer: string[];
  seed?: boolean;
  sequential?: boolean;
  port?: number;
  listen?: string;
  recheck?: boolean;
  skipVerify?: boolean;
  uploadLimit?: number;
  downloadLimit?: number;
  stopTimeout?: number;
  seedRatio?: number;
  seedTime?: number;
  json?: boolean;
  jsonInterval?: number;
  trackers: boolean;
  webSeeds: boolean;
  /** `--no-dht` makes it false. */
  dht: boolean;
  dhtBootstrap?: string[];
  dhtPort?: number;
  dhtReadOnly?: boolean;
  /** `--no-pex` makes it false. */
  pex: boolean;
  /** `download --select` / `--only` (src/cli/select.ts), and the 0-based files they chose. */
  select?: string[];
  only?: string[];
  selectedFiles?: number[] | undefined;
  /** `download magnet:…`: write the fetched metadata as `<name>.torrent` in the download folder. */
  saveTorrent?: boolean;
  metadataTimeout?: number;
  /** `--http-port`: serve the torrent over TorrentTTP too (HTTPS with `--cert`/`--key`). */
  httpPort?: number;
  cert?: string;
  key?: string;
  /** Undefined: the Client's default, prefer. */
  encryption?: 'prefer' | 'require' | 'off';
  /** `--host-name`: more names the --http-port server answers to when bound to loopback. */
  hostName?: string[];
}

/** What `download` was given: a torrent, or a magnet link whose metadata comes from peers first. */
type Input = { readonly metainfo: Metainfo } | { readonly magnet: Magnet; readonly uri: string; readonly select: (m: Metainfo) => number[] | undefined };

export function register(program: Command, ctx: CliContext): void {
  const common = (c: Command) =>
    c
      .option('--peer <host:port|url>', 'use this peer too: host:port (BitTorrent) or the http(s) torrent URL of a TorrentTTP peer; repeatable', repeatable(peerAddressOrUrl), [])
      .option('--port <n>', 'listening port for incoming peers (default: any free port)', port(true))
      .option('--listen <address>', 'address to listen on for incoming peers (default: 0.0.0.0, all IPv4)', listenAddress)
      .option('--encryption <policy>', ENCRYPTION_HELP, encryptionPolicy)
      .option('--upload-limit <rate>', 'upload limit in bytes/s (256K, 1M…)', rate)
      .option('--download-limit <rate>', 'download limit in bytes/s', rate)
      .option('--seed-ratio <ratio>', 'stop seeding once this many times the torrent size was uploaded', positiveNumber)
      .option('--no-trackers', "don't announce to the torrent's trackers")
      .option('--no-web-seeds', "don't use the torrent's web seeds")
      .option('--http-port <n>', 'also serve the torrent to TorrentTTP peers over HTTP on this port (0: any free port)', port(true))
      .option('--cert <file>', 'PEM certificate: the --http-port server speaks HTTPS (with --key)')
      .option('--key <file>', 'PEM private key for --cert')
      .option('--host-name <name>', 'with --listen on loopback: another name the --http-port server answers to (a Host header naming none is refused, against DNS rebinding); repeatable', repeatable(hostName))
      .option('--no-dht', "don't find peers through the DHT (BEP 5; never used for private torrents)")
      .option('--dht-bootstrap <host:port>', `DHT node to join the network through; repeatable (default: ${DHT_BOOTSTRAP.join(', ')})`, repeatable(peerAddress))
      .option('--dht-port <n>', 'UDP port of our DHT nodes, IPv4 and IPv6 (default: any free port)', port(true))
      .option('--dht-read-only', 'use the DHT without answering queries (BEP 43)')
      .option('--no-pex', "don't exchange peer lists with peers (BEP 11 ut_pex; never used for private torrents)")
      .option('--json', 'print JSON lines (progress, then a summary)')
      .option('--json-interval <seconds>', 'least time between two JSON progress and checking lines (default 1; 0: every one)', duration('s', { allowZero: true }));

  common(
    program
      .command('download')
      .description('download a torrent (and seed it with --seed)')
      .argument('<torrent>', ".torrent file, metainfo .json, the http(s) URL of either, a TorrentTTP torrent URL (…/torrents/<infohash>), or a magnet: link (quote it: 'magnet:?xt=…')")
      .option('-o, --output <dir>', 'download folder (default: the current folder)')
      .option('--save-torrent', 'magnet links: save the fetched metadata as <name>.torrent in the download folder')
      .option('--metadata-timeout <seconds>', 'magnet links: give up fetching the metadata after this long (default 120)', duration('s'))
      .option('--seed', 'keep seeding after the download completes, until interrupted (or --seed-ratio, --seed-time)')
      .option('--seed-time <duration>', 'seed after the download completes, for this long (90s, 30m, 2h; a bare number is minutes; 0: do not seed, even with --seed; as in aria2)', duration('m', { allowZero: true }))
      .option('--sequential', 'download pieces in order (streaming)')
      .option('--recheck', 'hash the data on disk instead of trusting the resume file')
      .option('--stop-timeout <seconds>', 'give up when no data arrived for this long (aria2 --bt-stop-timeout; 0: never, the default)', duration('s', { allowZero: true }))
      .option('--select <list>', 'download only these files: indexes as `info` lists them, e.g. 1,3-5; repeatable', repeatable(String), [])
      .option('--only <glob>', "download only files whose path in the torrent matches, e.g. '*.mkv'; repeatable", repeatable(String), []),
  ).action(async (input: string, flags: TransferFlags, cmd: Command) => {
    const tls = await tlsOf(ctx, cmd, flags);
    const loaded = await loadInput(input, ctx.cwd);
    const dir = resolve(ctx.cwd, flags.output ?? '.');
    // A seeding limit asks for seeding: `download --seed-ratio 2` seeds as aria2 does; `--seed-time 0`
    // is aria2's "do not seed", and wins over --seed and --seed-ratio (the first limit reached ends seeding).
    const seed = flags.seedTime !== 0 && (flags.seed === true || flags.seedRatio !== undefined || flags.seedTime !== undefined);
    if (loaded.kind === 'magnet') {
      // The file list is known only once the metadata is in: the selection is made then.
      const select = (m: Metainfo) => selectFilesOrUsageError(cmd, m, flags.select ?? [], flags.only ?? []);
      await run(ctx, { magnet: loaded.magnet, uri: input, select }, dir, { ...flags, seed }, 'download', tls);
      return;
    }
    // A TorrentTTP torrent URL names a peer too: the one that served the metainfo.
    if (loaded.peerUrl !== undefined && !flags.peer.includes(loaded.peerUrl)) flags.peer.push(loaded.peerUrl);
    const selectedFiles = selectFilesOrUsageError(cmd, loaded.metainfo, flags.select ?? [], flags.only ?? []);
    await run(ctx, { metainfo: loaded.metainfo }, dir, { ...flags, seed, selectedFiles }, 'download', tls);
  });

  common(
    program
      .command('seed')
      .description('serve a torrent from data you have, until interrupted')
      .argument('<torrent>', '.torrent file, metainfo .json, or the http(s) URL of either')
      .argument('<data>', "the torrent's file or folder (or the folder that holds it)")
      .option('--skip-verify', 'trust the data without hashing it (sizes must match)')
      .option('--seed-time <duration>', 'stop seeding after this long (90s, 30m, 2h; a bare number is minutes, as in aria2)', duration('m')),
  ).action(async (input: string, data: string, flags: TransferFlags, cmd: Command) => {
    const tls = await tlsOf(ctx, cmd, flags);
    const metainfo = await metainfoOf(input, ctx);
    const path = resolve(ctx.cwd, data);
    // `seed x.torrent ./payload.bin` names the data itself; `seed x.torrent ./folder` its parent.
    const dir = basename(path) === metainfo.name ? dirname(path) : path;
    await stat(resolve(dir, metainfo.name)).catch(async (cause: unknown) => {
      // A file of another name (`seed x.torrent ./renamed.bin`): said as such, not as `renamed.bin/big.bin: not a folder`.
      const given = dir === path ? await stat(path).catch(() => undefined) : undefined;
      const detail = given?.isFile() === true ? `${path} is a file, and the torrent's ${metainfo.multiFile ? 'folder' : 'file'} is named ${metainfo.name}: give that ${metainfo.multiFile ? 'folder' : 'file'}, or the folder that holds it` : `${resolve(dir, metainfo.name)} (the data to seed)`;
      throw new TorrenttpError('CLI_INPUT_NOT_FOUND', { detail, ...(given?.isFile() === true ? {} : { cause }) });
    });
    await run(ctx, { metainfo }, dir, { ...flags, seed: true }, 'seed', tls);
  });
}

/** `--cert`/`--key`, read before anything else: a usage error among them is said before the torrent is loaded. */
function tlsOf(ctx: CliContext, cmd: Command, flags: TransferFlags): Promise<Tls | undefined> {
  return readTls(ctx, cmd, flags.cert, flags.key, flags.httpPort === undefined ? '--cert and --key are for the TorrentTTP server: add --http-port N' : undefined);
}

async function metainfoOf(input: string, ctx: CliContext): Promise<Metainfo> {
  return (await loadedOf(input, ctx)).metainfo;
}

async function loadedOf(input: string, ctx: CliContext): Promise<{ metainfo: Metainfo; peerUrl?: string | undefined }> {
  const loaded = await loadInput(input, ctx.cwd);
  if (loaded.kind === 'magnet') {
    throw new TorrenttpError('CLI_UNKNOWN_INPUT', { detail: 'seed needs the .torrent (a magnet link holds no file list): download the magnet link with --save-torrent first' });
  }
  return loaded;
}

/**
 * A system error on a folder on the way, said by its path and code, in words where the CLI has
 * them (program.ts), not node's message (`ENAMETOOLONG: name too long, stat`); storage's own
 * errors (ENOENT's "does not allow new folders", a file in the way) as they are.
 */
function folderError(err: unknown): unknown {
  const sys = (err instanceof StorageError ? err.cause : undefined) as NodeJS.ErrnoException | undefined;
  if (!(err instanceof StorageError) || typeof sys?.code !== 'string' || sys.code === 'ENOENT' || typeof sys.path !== 'string') return err;
  return new StorageError(err.code, { detail: sys.path, cause: sys, errno: sys.code });
}

/** The sources the user can expect data from, as `kind id` (the Client's `source` events name them so). */
function expectedSources(input: Input, flags: TransferFlags): Set<string> {
  const trackers = 'metainfo' in input ? input.metainfo.announceList.flat() : input.magnet.trackers;
  const webSeeds = 'metainfo' in input ? input.metainfo.urlList : input.magnet.webSeeds;
  const peers = 'metainfo' in input ? flags.peer : [...flags.peer, ...input.magnet.peers];
  return new Set([
    ...(flags.trackers ? trackers.map((u) => `tracker ${u}`) : []),
    ...(flags.webSeeds ? webSeeds.map((u) => `webseed ${u}`) : []),
    ...peers.map((p) => `peer ${p}`),
  ]);
}

/** The well-known routers every client bootstraps from (libtorrent's, Transmission's and aria2's lists). */
export const DHT_BOOTSTRAP = ['router.bittorrent.com:6881', 'dht.transmissionbt.com:6881', 'router.utorrent.com:6881'];

/**
 * The DHT node for a download or seed, or undefined with `--no-dht` or for a private torrent
 * (BEP 27). Its table lives in `<dir>/.torrenttp/dht.dat`. It starts in the background (the
 * client's `track` starts it): name resolution and bootstrap never delay the transfer's start or stop.
 * Dual stack (BEP 32): an IPv6 node (table in `dht6.dat`, same `--dht-port`) is paired with it,
 * so lookups and announces go to both DHTs; none when `--listen` is an IPv4 address, and a host
 * without IPv6 costs one notice.
 */
async function dhtNodeFor(metainfo: Metainfo | undefined, dir: string, flags: TransferFlags, out: Reporter): Promise<DhtNode | undefined> {
  if (!flags.dht || metainfo?.private === true) return undefined;
  const { DhtNode } = await import('../../dht/index.js'); // --no-dht (or a private torrent) never compiles the DHT
  const dht = new DhtNode({
    port: flags.dhtPort ?? 0,
    ...(flags.listen === undefined || !flags.listen.includes('.') ? {} : { host: flags.listen }),
    bootstrap: flags.dhtBootstrap ?? DHT_BOOTSTRAP,
    readOnly: flags.dhtReadOnly === true,
    stateFile: join(dir, '.torrenttp', 'dht.dat'),
  });
  // "No bootstrap node answered" is news only when the user named them; the public routers are often out of reach (offline, firewalls).
  dht.on('warning', (msg, err) => {
    if (flags.dhtBootstrap !== undefined || err !== undefined) out.say('WARN', msg, err);
  });
  dht.start().catch((err: unknown) => out.say('WARN', `DHT off: ${err instanceof Error ? err.message : String(err)}`, err instanceof TorrenttpError ? err : undefined));
  if (flags.listen === undefined || flags.listen.includes(':')) {
    const dht6 = new DhtNode({
      family: 6,
      port: flags.dhtPort ?? 0,
      ...(flags.listen === undefined ? {} : { host: flags.listen }),
      bootstrap: flags.dhtBootstrap ?? DHT_BOOTSTRAP,
      readOnly: flags.dhtReadOnly === true,
      stateFile: join(dir, '.torrenttp', 'dht6.dat'),
    });
    dht6.on('warning', (msg, err) => {
      if (flags.dhtBootstrap !== undefined || err !== undefined) out.say('WARN', `IPv6 ${msg}`, err);
    });
    dht.pair(dht6);
    dht6.start().catch((err: unknown) => out.say('NOTICE', `IPv6 DHT off: ${err instanceof Error ? err.message : String(err)}`, err instanceof TorrenttpError ? err : undefined));
  }
  return dht;
}

async function run(ctx: CliContext, input: Input, dir: string, flags: TransferFlags, mode: 'download' | 'seed', tls: Tls | undefined): Promise<void> {
  // The download's folder first: one that cannot be made (a name over 255 bytes, a file in the
  // way) is the one error, said before anything starts. Else the DHT nodes warned that they
  // could not lock their tables in it, and the storage failed later with node's message.
  if (mode === 'download') await makeFolders(dir).catch((err: unknown) => Promise.reject(folderError(err)));
  const httpServer =
    flags.httpPort === undefined
      ? undefined
      : // Only --http-port compiles the gateway (the TorrentTTP server).
        (await import('../../gateway/index.js')).ttpServer({
          port: flags.httpPort,
          ...(flags.listen === undefined ? {} : { host: flags.listen }),
          ...(tls === undefined ? {} : { tls }),
          ...(flags.hostName === undefined ? {} : { hostNames: flags.hostName }),
        });
  const sources = expectedSources(input, flags);
  let metainfo: Metainfo | undefined = 'metainfo' in input ? input.metainfo : undefined;
  const out = new Reporter(ctx, { json: flags.json === true, jsonIntervalMs: (flags.jsonInterval ?? 1) * 1000, sources });
  const dht = await dhtNodeFor(metainfo, dir, flags, out);
  const client = new Client({
    port: flags.port ?? 0,
    ...(flags.listen === undefined ? {} : { host: flags.listen }),
    // With a TorrentTTP server, announce in JSON with its URL, so that trackers with a JSON side
    // list us to HTTP-only peers too (the others are asked the BEP 3 way, as before).
    ...(httpServer === undefined ? {} : { httpServer, jsonAnnounce: true }),
    ...(dht === undefined ? {} : { dht }),
    ...(flags.encryption === undefined ? {} : { encryption: flags.encryption }),
    ...(flags.pex ? {} : { pex: false }),
  });
  // Said when asked for explicitly; the `torrenttp` command starts node with RC4, a bare `node main.js` may not.
  if (flags.encryption === 'prefer' && !mseAvailable()) out.say('WARN', 'encryption: RC4 is missing from this Node.js (start it with --openssl-legacy-provider, as the torrenttp command does): peers are dialled plain');
  client.on('source', (s) => out.source(s));
  client.on('warning', (msg, err) => out.say('WARN', msg, err));
  client.on('peerError', (peer, err) => out.peerError(peer, err));
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;

  let signalled!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (signal: string) => {
    // The first signal stops cleanly; a second one means "now", whatever is stuck.
    if (++signals > 1) process.exit(130);
    signalled(signal);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const timers: NodeJS.Timeout[] = [];
  let failed = false;
  try {
    let learned: readonly string[] = [];
    if (metainfo === undefined && 'magnet' in input) {
      const fetched = await fetchMetadata(ctx, client, input, flags, out, stopped);
      if (typeof fetched === 'string') {
        out.stoppedEarly(fetched);
        ctx.exitCode = 130;
        return;
      }
      metainfo = fetched.metainfo;
      learned = fetched.peers;
      flags = { ...flags, selectedFiles: input.select(metainfo), peer: [...flags.peer, ...input.magnet.peers] };
    }
    if (metainfo === undefined) throw new TorrenttpError('INTERNAL', { detail: 'no metainfo' }); // unreachable: one of the two above
    const add: AddOptions = {
      path: dir,
      peers: flags.peer,
      trackers: flags.trackers,
      webSeeds: flags.webSeeds,
      ...(flags.sequential === true ? { sequential: true } : {}),
      ...(flags.selectedFiles === undefined ? {} : { selectedFiles: flags.selectedFiles }),
      ...(flags.recheck === true ? { recheck: true } : {}),
      ...(flags.skipVerify === true ? { skipVerify: true } : {}),
      ...(flags.uploadLimit === undefined ? {} : { uploadLimit: flags.uploadLimit }),
      ...(flags.downloadLimit === undefined ? {} : { downloadLimit: flags.downloadLimit }),
      onCheckProgress: (done, total) => out.checking(done, total),
    };
    const adding = client.add(metainfo, add).catch((err: unknown) => {
      const hinted = withPortHint(err, { listen: '--http-port', peer: '--port' });
      if (hinted !== err) throw hinted;
      if (err instanceof TorrenttpError && err.code === 'ENGINE_LISTEN_FAILED' && flags.port === undefined) {
        // The engine names the port it was given, 0: the user gave none and asked for any.
        const why = (err.cause as Error | undefined)?.message ?? err.detail ?? '';
        throw new TorrenttpError('ENGINE_LISTEN_FAILED', { detail: `${flags.listen ?? '0.0.0.0'}, any port: ${why}`, cause: err });
      }
      throw err;
    });
    // Checking a large torrent's data takes a while: Ctrl-C must work then too.
    const t = await Promise.race([adding, stopped]);
    if (typeof t === 'string') {
      adding.catch(() => undefined); // it fails with ENGINE_CLOSED once the client closes
      out.stoppedEarly(t);
      ctx.exitCode = 130;
      return;
    }
    for (const a of learned) client.introduce(t.infoHash, a);
    out.start(t, client.port, mode, client.httpServer?.torrentUrl(t.infoHash));
    if (mode === 'download' && !t.complete && sources.size === 0) {
      out.say('WARN', dht === undefined
        ? `no tracker, no web seed and no --peer: nothing to download from unless a peer connects to port ${client.port}`
        : `no tracker, no web seed and no --peer: only the DHT can find peers (or a peer that connects to port ${client.port})`);
    }
    t.on('progress', (s) => out.progress(s));
    // The first verified piece is a JSON progress line at once, not at the next tick or interval (time to first byte: bench/magnet.ts).
    t.once('piece', () => out.progress(t.stats(), true));

    const gaveUp = flags.stopTimeout === undefined || flags.stopTimeout === 0 ? new Promise<never>(() => undefined) : stallTimer(t, flags.stopTimeout * 1000, timers);
    let how = await Promise.race([t.done.then(() => 'complete'), stopped.then((sig) => `stopped (${sig})`), gaveUp]);
    if (how === 'complete' && flags.seed === true) {
      if (mode === 'download') out.summary(t.stats(), elapsed(), how);
      out.seeding(t, seedingUntil(flags));
      // `done` has resolved: a fatal error now (a data file truncated under the seed: STORAGE_IO)
      // closes the torrent and is told only by its `error` event. Without this the command went
      // on "seeding" a torrent that no longer existed, and said nothing.
      const failedWhileSeeding = new Promise<never>((_, reject) => t.once('error', reject));
      failedWhileSeeding.catch(() => undefined); // after the race, nobody waits for it
      how = await Promise.race([stopped.then((sig) => `stopped seeding (${sig})`), ...seedLimits(t, flags, timers), failedWhileSeeding]);
    }
    out.summary(t.stats(), elapsed(), how);
    if (!t.complete) ctx.exitCode = 130; // interrupted before the end: not a success (128 + SIGINT, as shells say)
  } catch (err) {
    failed = true;
    if (err instanceof TorrenttpError && err.code === 'CLI_STOP_TIMEOUT' && metainfo !== undefined) {
      const t = client.get(metainfo.infoHash);
      if (t !== undefined) out.summary(t.stats(), elapsed(), 'gave up (--stop-timeout)');
    }
    throw err;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    out.finish();
    // `stopped` to the trackers, resume state saved. Its failure is the command's error, unless
    // one is already on its way out (the save then mostly fails for the same reason: a full disk).
    try {
      await client.close().catch((err: unknown) => {
        if (!failed) throw err;
      });
    } finally {
      // Closes the UDP socket whatever happened above (an open one would keep the process alive)
      // and saves the node table; a failed save costs only the next start's bootstrap.
      await Promise.all([dht?.close(), dht?.paired?.close()].map((p) => p?.catch(() => undefined)));
    }
  }
}

/**
 * A magnet link's metadata, with "fetching metadata from N peers" as progress; `--save-torrent`
 * writes it as `<name>.torrent` in the download folder. Resolves to the signal's name when
 * interrupted first.
 */
async function fetchMetadata(
  ctx: CliContext,
  client: Client,
  input: Extract<Input, { magnet: Magnet }>,
  flags: TransferFlags,
  out: Reporter,
  stopped: Promise<string>,
): Promise<{ metainfo: Metainfo; peers: readonly string[] } | string> {
  const abort = new AbortController();
  const named = expectedSources(input, flags);
  const fetching = client.fetchMetadata(input.uri, {
    peers: flags.peer,
    trackers: flags.trackers,
    signal: abort.signal,
    ...(flags.metadataTimeout === undefined ? {} : { timeoutMs: flags.metadataTimeout * 1000 }),
    onProgress: (p) => out.metadata(p.peers, p.receivedBytes, p.metadataSize),
    // A peer the user named is worth a line when it fails; one heard of from a tracker is routine.
    onPeerError: (peer, err) => (named.has(`peer ${peer}`) ? out.say('WARN', `peer ${peer}: ${err.message}`, err) : out.peerError(peer, err)),
  });
  const got = await Promise.race([fetching, stopped]);
  if (typeof got === 'string') {
    abort.abort();
    fetching.catch(() => undefined);
    return got;
  }
  out.say('NOTICE', `metadata: ${got.metainfo.name}, ${got.metainfo.files.length} file${got.metainfo.files.length === 1 ? '' : 's'}, ${got.metainfo.infoBytes.length} bytes of info dict verified`);
  if (flags.saveTorrent === true) {
    const path = resolve(ctx.cwd, flags.output ?? '.', savedTorrentName(got.metainfo));
    const m = got.metainfo;
    await makeFolders(dirname(path))
      .then(() => writeFile(path, encodeTorrent(m.infoBytes, { announceList: m.announceList, urlList: m.urlList })))
      .catch((cause: unknown) => {
      throw new TorrenttpError('CLI_OUTPUT_UNWRITABLE', { detail: `${path}: ${(cause as Error).message}`, cause });
    });
    out.say('NOTICE', `saved ${path}`);
  }
  return got;
}

/**
 * `--save-torrent`'s file: `<name>.torrent`, or `<info-hash>.torrent` (aria2's
 * `--bt-save-metadata` name) when that is too long a file name: a payload named with 248-255
 * bytes is saved, and its torrent must not fail the download before it starts (ENAMETOOLONG).
 */
export function savedTorrentName(m: Pick<Metainfo, 'name' | 'infoHash'>): string {
  const named = `${m.name}.torrent`;
  return Buffer.byteLength(named) <= NAME_MAX_BYTES ? named : `${m.infoHash}.torrent`;
}

/** Rejects with CLI_STOP_TIMEOUT once no payload arrived for `ms` (aria2's --bt-stop-timeout: download speed 0 that long). */
function stallTimer(t: Torrent, ms: number, timers: NodeJS.Timeout[]): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    let downloaded = t.stats().downloaded;
    let since = Date.now();
    const check = () => {
      const s = t.stats();
      if (s.downloaded !== downloaded || s.done) {
        downloaded = s.downloaded;
        since = Date.now();
      } else if (Date.now() - since >= ms) {
        reject(new TorrenttpError('CLI_STOP_TIMEOUT', { detail: `nothing received for ${formatDuration(ms / 1000)} (${peersText(s)})` }));
        return;
      }
      timers.push(setTimeout(check, Math.min(1000, ms)));
    };
    timers.push(setTimeout(check, Math.min(1000, ms)));
  });
}

/** `until interrupted (Ctrl-C)`, `for 3s (or until Ctrl-C)`, `for 1h0m0s or until ratio 2 is reached (or until Ctrl-C)`. */
function seedingUntil(flags: TransferFlags): string {
  const limits = [
    ...(flags.seedTime === undefined ? [] : [`for ${formatDuration(flags.seedTime)}`]),
    ...(flags.seedRatio === undefined ? [] : [`until ratio ${flags.seedRatio} is reached`]),
  ];
  return limits.length === 0 ? 'until interrupted (Ctrl-C)' : `${limits.join(' or ')} (or until Ctrl-C)`;
}

/** Resolves when a seeding limit is reached (aria2: whichever of --seed-ratio and --seed-time comes first). */
function seedLimits(t: Torrent, flags: TransferFlags, timers: NodeJS.Timeout[]): Promise<string>[] {
  const limits: Promise<string>[] = [];
  const seedTime = flags.seedTime;
  if (seedTime !== undefined) limits.push(new Promise((resolve) => timers.push(setTimeout(() => resolve(`seed time ${formatDuration(seedTime)} reached`), seedTime * 1000))));
  const ratio = flags.seedRatio;
  if (ratio !== undefined) {
    limits.push(
      new Promise((resolve) => {
        // Ratio of this session's upload to the torrent's size, as aria2 counts it.
        const check = (s: { uploaded: number; length: number }) => {
          if (s.uploaded >= ratio * Math.max(s.length, 1)) {
            t.off('progress', check);
            resolve(`seed ratio ${ratio} reached`);
          }
        };
        t.on('progress', check);
        check(t.stats());
      }),
    );
  }
  return limits;
}
