import { TorrenttpError } from '../errors/index.js';
import type { Metainfo } from '../metainfo/index.js';

/**
 * BEP 19 URL of one file of the torrent on a web seed:
 * - single file: the URL itself, or, when it ends with `/`, the URL plus the torrent's name;
 * - multi-file: the URL is a folder: `<url>/<name>/<path…>` (a missing trailing `/` is added).
 * Every appended component is percent-encoded on its own (`encodeURIComponent`), so a file named
 * `a b/?#.txt` can never change the URL's structure. A file renamed on disk because the torrent
 * lists its path twice is still asked for under the path the torrent lists (`torrentPath`).
 */
export function webSeedFileUrl(base: string, metainfo: Pick<Metainfo, 'name' | 'multiFile' | 'files'>, fileIndex: number): string {
  const file = metainfo.files[fileIndex];
  if (file === undefined) throw new TorrenttpError('INVALID_ARGUMENT', { detail: `file ${fileIndex} of ${metainfo.files.length}` });
  if (!metainfo.multiFile) return base.endsWith('/') ? base + encodeURIComponent(metainfo.name) : base;
  const root = base.endsWith('/') ? base : `${base}/`;
  return root + [metainfo.name, ...(file.torrentPath ?? file.path)].map(encodeURIComponent).join('/');
}
