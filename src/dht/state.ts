import { link, lstat, open, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { decode, encode } from '../bencode/index.js';
import { makeFolders, writeFileAtomic } from '../storage/index.js';
import { DhtError } from './errors.js';
import { COMPACT_NODE6_BYTES, decodeCompactNodes, decodeCompactNodes6, encodeCompactNodes, encodeCompactNodes6, ipFamily, NODE_ID_BYTES, type CompactNode } from './krpc.js';

/**
 * The node table across restarts (BEP 5: "a node should keep its id and table"): a bencoded
 * dict `{ id, nodes, nodes6 }` with nodes in the compact 26-byte form and IPv6 nodes in the
 * 38-byte form of BEP 32 (an IPv6 node keeps its own file), written atomically (temp file,
 * fsync, rename) so a crash leaves the old table or the new one. At most `MAX_SAVED_NODES` are
 * kept; reading applies the same bound, so a planted huge file costs nothing.
 */
export const MAX_SAVED_NODES = 400;
const MAX_STATE_BYTES = 64 + MAX_SAVED_NODES * COMPACT_NODE6_BYTES + 64;

export interface DhtState {
  readonly id: Uint8Array;
  readonly nodes: readonly CompactNode[];
}

export function encodeState(state: DhtState): Uint8Array {
  const kept = state.nodes.slice(0, MAX_SAVED_NODES);
  const v6 = kept.filter((n) => ipFamily(n.ip) === 6);
  return encode({
    id: state.id,
    nodes: encodeCompactNodes(kept.filter((n) => ipFamily(n.ip) === 4)),
    ...(v6.length > 0 ? { nodes6: encodeCompactNodes6(v6) } : {}),
    v: 1,
  });
}

export function decodeState(bytes: Uint8Array): DhtState {
  try {
    const v = decode(bytes, { maxInputBytes: MAX_STATE_BYTES, maxDepth: 2, maxTokens: 16 });
    const id = v instanceof Map ? v.get('id') : undefined;
    const nodes = v instanceof Map ? v.get('nodes') : undefined;
    const nodes6 = v instanceof Map ? v.get('nodes6') : undefined;
    if (!(id instanceof Uint8Array) || id.length !== NODE_ID_BYTES || !(nodes instanceof Uint8Array)) throw new DhtError('DHT_BAD_STATE', { detail: 'no id or nodes' });
    if (nodes6 !== undefined && !(nodes6 instanceof Uint8Array)) throw new DhtError('DHT_BAD_STATE', { detail: 'nodes6 is not a byte string' });
    const all = [...decodeCompactNodes(nodes), ...(nodes6 === undefined ? [] : decodeCompactNodes6(nodes6))];
    return { id: new Uint8Array(id), nodes: all.slice(0, MAX_SAVED_NODES) };
  } catch (err) {
    if (err instanceof DhtError && err.code === 'DHT_BAD_STATE') throw err;
    throw new DhtError('DHT_BAD_STATE', { detail: err instanceof Error ? err.message : String(err), cause: err });
  }
}

/** The saved state, undefined when there is none yet; DHT_BAD_STATE when the file is damaged. */
export async function loadState(path: string): Promise<DhtState | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DhtError('DHT_BAD_STATE', { detail: `${path}: ${(err as Error).message}`, cause: err });
  }
  return decodeState(bytes);
}

/** With `noSymlinkDir`, refuses a folder that is a symlink (ours sits in the download folder, where one could be planted). */
export async function saveState(path: string, state: DhtState, opts: { noSymlinkDir?: boolean } = {}): Promise<void> {
  await writeFileAtomic(path, encodeState(state), opts);
}

/** Lock files this process holds: a second node on the same file in this process is kept out too. */
const heldLocks = new Set<string>();

/** What `lockState` got: the lock (release it after the last save), or the pid of the live process holding it. */
export type StateLock = { readonly release: () => Promise<void> } | { readonly heldBy: number };

/**
 * Takes `<path>.lock` for one DHT node: two nodes on one state file (two `torrenttp download`s
 * into one folder) would run one node id twice on the DHT and overwrite each other's table. The
 * lock holds our pid and is created whole (written aside, then hard-linked into place, which
 * fails if it exists), so a reader never sees it empty (where the file system has no hard links,
 * it is created exclusively, then written). One left by a process that is gone (a crash) is taken
 * over; a live holder's pid is returned instead. The takeover is atomic (`removeDeadLock`): of
 * several processes that find the same dead lock at once, one removes it and the others then
 * find the winner's. A `.torrenttp` folder that is a symlink is refused, as `saveState` does.
 */
export async function lockState(path: string): Promise<StateLock> {
  const lockPath = resolve(`${path}.lock`);
  if (heldLocks.has(lockPath)) return { heldBy: process.pid };
  const dir = dirname(lockPath);
  try {
    await makeFolders(dir); // not mkdir's recursive: it spins for ever where a filesystem answers ENOENT (/proc)
    if ((await lstat(dir)).isSymbolicLink()) throw new Error(`${dir} is a symlink`);
  } catch (err) {
    throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: ${(err as Error).message}`, cause: err });
  }
  const aside = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(aside, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      // Another node of this process took it while this one waited.
      if (heldLocks.has(lockPath)) return { heldBy: process.pid };
      try {
        await createLock(aside, lockPath);
        heldLocks.add(lockPath);
        let released = false;
        return {
          release: async () => {
            if (released) return;
            released = true;
            heldLocks.delete(lockPath);
            await rm(lockPath, { force: true });
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: ${(err as Error).message}`, cause: err });
      }
      const held = await readLock(lockPath);
      if (held === undefined) continue; // gone meanwhile: try again
      if (holderLives(held.pid, lockPath)) return { heldBy: held.pid };
      if (!(await removeDeadLock(lockPath, held.ino))) await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
    }
    throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: could not be taken` });
  } finally {
    await rm(aside, { force: true });
  }
}

/** Tries to take over a dead lock for this long at most (another process in the middle of it). */
const LOCK_ATTEMPTS = 50;
const LOCK_RETRY_MS = 20;

/** The lock's pid (NaN when unreadable or empty) and inode; undefined when there is none. */
async function readLock(lockPath: string): Promise<{ pid: number; ino: bigint } | undefined> {
  let fh;
  try {
    fh = await open(lockPath, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DhtError('DHT_BAD_STATE', { detail: `${lockPath}: ${(err as Error).message}`, cause: err });
  }
  try {
    // A pid is a few digits: a planted huge lock file is not read whole.
    const head = Buffer.alloc(32);
    const [st, { bytesRead }] = await Promise.all([fh.stat({ bigint: true }), fh.read(head, 0, head.length, 0)]);
    return { pid: Number.parseInt(head.toString('utf8', 0, bytesRead), 10), ino: st.ino };
  } finally {
    await fh.close();
  }
}

/**
 * Removes the dead lock whose inode is `ino`, as one of any number of processes doing the same:
 * the first to hard-link it to `<lock>.dead-<ino>` (an exclusive create) is the only one that
 * removes it; the others are told false and look again, to find the winner's lock. The link keeps
 * the inode taken while it exists, so its name cannot be met again by another lock, and it is
 * removed after. Where the file system has no hard links, the lock is removed as it is (two
 * processes could then both take it over).
 */
async function removeDeadLock(lockPath: string, ino: bigint): Promise<boolean> {
  const marker = `${lockPath}.dead-${ino}`;
  try {
    await link(lockPath, marker);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') return false; // another one is at it, or it is gone
    await rm(lockPath, { force: true });
    return true;
  }
  try {
    // The name was linked, not the inode: the lock seen dead may have been replaced meanwhile
    // (even by one on the same inode, freed and reused), so the one pinned now is read again.
    const pinned = await readLock(marker);
    if (pinned === undefined || pinned.ino !== ino || holderLives(pinned.pid, lockPath)) return false;
    await rm(lockPath, { force: true });
    return true;
  } finally {
    await rm(marker, { force: true });
  }
}

/** Hard-links the written file into place; where the file system has no hard links (FAT, exFAT, some network mounts), creates it exclusively and writes it. */
async function createLock(aside: string, lockPath: string): Promise<void> {
  try {
    await link(aside, lockPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') throw err;
    await writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' });
  }
}

/** Whether a lock's pid is a live holder. Our own pid counts only while this process holds the lock: else an earlier process had it (a container's restart). */
function holderLives(pid: number, lockPath: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return pid === process.pid ? heldLocks.has(lockPath) : alive(pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
