import { TorrenttpError } from '../errors/index.js';

/** Codes of a server's failed bind whose detail names the address (`tcp 0.0.0.0:8080`, `udp …`). */
const BIND_CODES = new Set(['GATEWAY_BIND_FAILED', 'TRACKER_BIND_FAILED']);

/**
 * Whether EADDRINUSE is somewhere in `err`'s causes: a UDP port is taken two errors down (serve's
 * GATEWAY_BIND_FAILED → its tracker's TRACKER_BIND_FAILED → the batched socket's TRACKER_BIND_FAILED
 * → the system error), a TCP one right under it. Bounded: a cause chain is no place for a loop.
 */
function inUse(err: TorrenttpError): boolean {
  let cause: unknown = err.cause;
  for (let depth = 0; depth < 8 && typeof cause === 'object' && cause !== null; depth++) {
    if ((cause as { code?: unknown }).code === 'EADDRINUSE') return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/** The flags that choose each port a command binds, for `withPortHint`. */
export interface PortFlags {
  /** The listening port: `--port`, or `download`/`seed`'s `--http-port` (binds labelled `TorrentTTP tcp …`). */
  readonly listen: string;
  /** The seed's BitTorrent port (`--peer-port`; `--port` for `download` and `seed`). */
  readonly peer?: string;
  /** The embedded tracker on a port of its own (`serve --tracker-port`: failures labelled `tracker tcp …`). */
  readonly tracker?: string;
}

/**
 * A server command's start that failed because a port is taken, said with the flag that picks
 * another (as `download --port` says it): `serve`, `proxy` and `tracker` said only
 * `tcp 0.0.0.0:8080: in use (EADDRINUSE)`, or for a taken UDP port `udp 0.0.0.0:8080`, and
 * `--http-port` `TorrentTTP tcp 0.0.0.0:8080 (in use)`, which leaves someone who ran `npm start`
 * with nothing to try. Anything else is returned as it is.
 */
export function withPortHint(err: unknown, flags: PortFlags): unknown {
  if (!(err instanceof TorrenttpError)) return err;
  const bind = /^(tracker |TorrentTTP )?(?:tcp|udp) /.exec(err.detail ?? '');
  if (BIND_CODES.has(err.code) && bind !== null && inUse(err)) {
    const flag = (bind[1] === 'tracker ' ? flags.tracker : undefined) ?? flags.listen;
    return new TorrenttpError(err.code, { detail: `${err.detail}: in use (EADDRINUSE); choose another with ${flag} N, or ${flag} 0 for any free port`, cause: err });
  }
  if (err.code === 'ENGINE_PORT_IN_USE' && flags.peer !== undefined) {
    return new TorrenttpError('ENGINE_PORT_IN_USE', { detail: `${err.detail ?? ''}: choose another with ${flags.peer} N, or leave ${flags.peer} out for any free port`, cause: err });
  }
  return err;
}
