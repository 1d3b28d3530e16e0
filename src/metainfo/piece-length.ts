/**
 * Automatic piece length, as mktorrent/libtorrent users expect: the smallest power of two from
 * 16 KiB to 16 MiB that keeps the torrent at 2,000 pieces or fewer, so it lands between about
 * 1,000 and 2,000 pieces once past the floor (1 GiB → 1 MiB pieces, 1,024 of them). Fewer
 * pieces keep the .torrent small; more give finer-grained sharing, and 16 KiB is one block.
 */
export const MIN_PIECE_LENGTH = 16 * 1024;
export const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
export const TARGET_MAX_PIECES = 2000;

export function autoPieceLength(totalBytes: number): number {
  let len = MIN_PIECE_LENGTH;
  while (len < MAX_AUTO_PIECE_LENGTH && totalBytes / len > TARGET_MAX_PIECES) len *= 2;
  return len;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}
