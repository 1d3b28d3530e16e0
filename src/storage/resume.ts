import { constants } from 'node:fs';
import { lstat, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { decode, encode, type BencodeValue } from '../bencode/index.js';
import { Bitfield, infoHashToBytes, toHex, type InfoHash } from '../metainfo/index.js';
import { StorageError, toStorageError } from './errors.js';
import { makeFolders } from './folders.js';
import { holdFolder, type HeldFolder } from './layout.js';

/**
 * The resume file: which pieces were verified, and what each file looked like when they were.
 * A bencoded dict (see docs/storage.md):
 *
 *   { "version": 1, "info-hash": <20 bytes>, "pieces": <bitfield, BEP 3 layout>,
 *     "files": [[size, mtimeNs], …],   one entry per torrent file, in torrent order
 *     "saved": <ns since the epoch, read before the bitfield was taken>,
 *     "final": 1 when written by close(), after which this storage writes nothing, else 0 }
 *
 * Anything unexpected in it makes it untrusted (the data is rechecked), never an error.
 */
export const RESUME_VERSION = 1;

export interface ResumeState {
  readonly bitfield: Bitfield;
  readonly files: readonly { readonly size: number; readonly mtimeNs: bigint }[];
  /** Wall clock (ns) just before `bitfield` was taken. */
  readonly savedNs: bigint;
  /** Saved by `close()`: no write of that storage can follow the file stats. */
  readonly final: boolean;
}

/**
 * "Racy git": a file's mtime only moves when the kernel's coarse clock has ticked (ext4: a few
 * ms; ext3 and HFS+ 1 s; FAT 2 s), so a write just after a save may leave the mtime that save
 * recorded. After a save that writes could follow (not `final`), a file whose mtime lies within
 * this margin of `savedNs` is not trusted but rechecked.
 */
export const RACY_MARGIN_NS = 2_000_000_000n;

/** Whether a file now at `now` may take the word of `state` for its pieces. */
export function trustsFile(state: ResumeState, fileIndex: number, now: { readonly size: number; readonly mtimeNs: bigint }): boolean {
  const seen = state.files[fileIndex];
  if (seen === undefined || seen.size !== now.size || seen.mtimeNs !== now.mtimeNs) return false;
  return state.final || now.mtimeNs < state.savedNs - RACY_MARGIN_NS;
}

export function resumePath(resumeDir: string, infoHash: InfoHash): string {
  return join(resumeDir, `${infoHash}.resume`);
}

export function encodeResume(infoHash: InfoHash, state: ResumeState): Uint8Array {
  return encode({
    version: RESUME_VERSION,
    'info-hash': infoHashToBytes(infoHash),
    pieces: state.bitfield.toBytes(),
    files: state.files.map((f) => [f.size, f.mtimeNs]),
    saved: state.savedNs,
    final: state.final ? 1 : 0,
  });
}

/** The state in `bytes`, or undefined when it is not a resume file for this torrent. */
export function decodeResume(bytes: Uint8Array, infoHash: InfoHash, pieceCount: number, fileCount: number): ResumeState | undefined {
  let root: BencodeValue;
  try {
    root = decode(bytes);
  } catch {
    return undefined;
  }
  if (!(root instanceof Map) || root.get('version') !== RESUME_VERSION) return undefined;
  const hash = root.get('info-hash');
  if (!(hash instanceof Uint8Array) || toHex(hash) !== infoHash) return undefined;
  const pieces = root.get('pieces');
  const files = root.get('files');
  if (!(pieces instanceof Uint8Array) || !Array.isArray(files) || files.length !== fileCount) return undefined;
  let bitfield: Bitfield;
  try {
    bitfield = Bitfield.fromBytes(pieces, pieceCount);
  } catch {
    return undefined;
  }
  const out: { size: number; mtimeNs: bigint }[] = [];
  for (const f of files) {
    if (!Array.isArray(f) || f.length !== 2) return undefined;
    const [size, mtime] = f;
    if (typeof size !== 'number' || size < 0 || (typeof mtime !== 'number' && typeof mtime !== 'bigint')) return undefined;
    out.push({ size, mtimeNs: BigInt(mtime) });
  }
  const saved = root.get('saved');
  const final = root.get('final');
  if ((typeof saved !== 'number' && typeof saved !== 'bigint') || (final !== 0 && final !== 1)) return undefined;
  return { bitfield, files: out, savedNs: BigInt(saved), final: final === 1 };
}

/** The resume file's state, or undefined when it is missing or unreadable as one. */
export async function readResume(path: string, infoHash: InfoHash, pieceCount: number, fileCount: number): Promise<ResumeState | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    return undefined;
  }
  return decodeResume(bytes, infoHash, pieceCount, fileCount);
}

/**
 * Replaces the file at `path` atomically and durably: write a temp file beside it, fsync it,
 * rename it over, fsync the folder. A crash leaves the old file or the new one, never a mix.
 * With `noSymlinkDir`, the folder must be a real folder, not a symlink (our default folder lives
 * inside the download folder, where a planted symlink must not redirect writes), and it is
 * written in held by a checked fd (`holdFolder`): one swapped for a symlink after the check leads
 * nothing outside (STORAGE_PATH_ESCAPE). With `existingFolder`, the folder is not made: the caller
 * made it once (a storage at its open), and one removed since fails the write with
 * STORAGE_RESUME_FOLDER_GONE instead of coming back (with the folders above it).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, opts: { noSymlinkDir?: boolean; existingFolder?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  const name = basename(path);
  try {
    if (opts.existingFolder !== true) await makeFolders(dir);
    let held: HeldFolder | undefined;
    if (opts.noSymlinkDir === true) {
      if ((await lstat(dir)).isSymbolicLink()) throw new StorageError('STORAGE_PATH_ESCAPE', { detail: `${dir} is a symlink` });
      // The folders above it may be symlinks (the download folder is the user's choice): resolved.
      const abs = resolve(dir);
      held = await holdFolder(join(await realpath(dirname(abs)), basename(abs)));
    }
    const at = (n: string): string => (held === undefined ? join(dir, n) : held.path(n));
    try {
      await rm(at(`${name}.tmp`), { force: true });
      const fh = await open(at(`${name}.tmp`), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(at(`${name}.tmp`), at(name));
      const dh = await open(at('.'), constants.O_RDONLY);
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } finally {
      await held?.close();
    }
  } catch (err) {
    if (opts.existingFolder === true && isNoEntry(err) && (await lstat(dir).then(() => false, () => true))) {
      throw new StorageError('STORAGE_RESUME_FOLDER_GONE', { detail: `${dir} was removed while the torrent was open; not made again`, errno: 'ENOENT', cause: err });
    }
    throw toStorageError(err, path);
  }
}

/** ENOENT, raw from `fs` or inside a StorageError. */
function isNoEntry(err: unknown): boolean {
  return err instanceof StorageError ? err.errno === 'ENOENT' : (err as { code?: unknown } | null)?.code === 'ENOENT';
}
