import { TorrenttpError, type ErrorCode, type TorrenttpErrorOptions } from '../errors/index.js';

export type StorageErrorCode = Extract<ErrorCode, `STORAGE_${string}`>;

/** Disk failures, unsafe paths and bad piece/block arguments of a `PieceStore`. */
export class StorageError extends TorrenttpError {
  static override readonly kind: string = 'StorageError';
  declare readonly code: StorageErrorCode;
  /** The `fs` error code (`ENOSPC`, `EROFS`…) when the disk said no. */
  readonly errno: string | undefined;
  constructor(code: StorageErrorCode, opts: TorrenttpErrorOptions & { readonly errno?: string } = {}) {
    super(code, opts);
    this.errno = opts.errno;
  }
}

/**
 * Which storage code an `fs` error code becomes. EDQUOT is a full disk as far as the user can
 * act on it; EPERM joins EACCES/EROFS because all three mean "this place will not take writes".
 * ELOOP is what `O_NOFOLLOW` answers on a symlink, our path-escape defence.
 */
export function storageCodeOfErrno(errno: string): StorageErrorCode {
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'STORAGE_NO_SPACE';
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return 'STORAGE_READ_ONLY';
    case 'ELOOP':
      return 'STORAGE_PATH_ESCAPE';
    case 'EISDIR':
    case 'ENOTDIR':
      return 'STORAGE_PATH_CONFLICT';
    default:
      return 'STORAGE_IO';
  }
}

/**
 * The hasher's code (`openForHashing`) for a file that led elsewhere when a recheck opened it: a
 * folder on the way swapped for a symlink. To storage, a path escape.
 */
export const HASHER_PATH_ESCAPE = 'CREATE_PATH_ESCAPE';

/** Any thrown thing as a StorageError: ours pass through, `fs` errors map by their code, the hasher's escape is ours. */
export function toStorageError(err: unknown, detail?: string): StorageError {
  if (err instanceof StorageError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const errno = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? fsMessage(e.message, err as FsErrorFields, detail) : String(err);
  if (errno === HASHER_PATH_ESCAPE) {
    return new StorageError('STORAGE_PATH_ESCAPE', { detail: `${detail === undefined ? '' : `${detail}: `}${message} (a folder on the way was swapped for a symlink): not read`, cause: err });
  }
  return new StorageError(errno === undefined ? 'STORAGE_IO' : storageCodeOfErrno(errno), {
    detail: detail === undefined ? message : `${detail}: ${message}`,
    cause: err,
    ...(errno === undefined ? {} : { errno }),
  });
}

/**
 * An `fs` error's message without the paths node appends to it (`…, open '<path>'`, `-> '<dest>'`)
 * where they say nothing the user does not read already: a `/proc/self/fd/N/name` path (the
 * storage works in folders held by fd: `layout.ts` `holdFolder`), or the very path `detail` names.
 * Another path stays: it says which file or folder failed (the folder, for a file's name).
 */
function fsMessage(message: string, e: FsErrorFields, detail: string | undefined): string {
  if (typeof e.syscall !== 'string' || typeof e.path !== 'string') return message;
  const cut = message.lastIndexOf(`, ${e.syscall} '`);
  if (cut < 0) return message;
  const said = (p: unknown): boolean => typeof p !== 'string' || p.startsWith('/proc/self/fd/') || (detail !== undefined && names(detail, p));
  return `${message.slice(0, cut)}, ${e.syscall}${said(e.path) ? '' : ` '${e.path}'`}${said(e.dest) ? '' : ` -> '${String(e.dest)}'`}`;
}

interface FsErrorFields {
  readonly syscall?: unknown;
  readonly path?: unknown;
  readonly dest?: unknown;
}

/** Whether `text` has `path` as a whole path, not the start of a longer one (`/a/b` is not in `/a/bc` or `/a/b/c`). */
function names(text: string, path: string): boolean {
  for (let at = text.indexOf(path); at >= 0; at = text.indexOf(path, at + 1)) {
    const next = text[at + path.length];
    if (next === undefined || !/[\w./-]/.test(next)) return true;
  }
  return false;
}
