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

/**
 * A server command's start that failed because a port is taken, said with the flag that picks
 * another (as `download --port` says it, commands/transfer.ts): `serve`, `proxy` and `tracker`
 * said only `tcp 0.0.0.0:8080: in use (EADDRINUSE)`, or for a taken UDP port `udp 0.0.0.0:8080`,
 * which leaves someone who ran `npm start` with nothing to try. `listenFlag` chooses the
 * listening port (`--port`), `peerFlag` the seed's BitTorrent port (`--peer-port`; none for the
 * tracker), `trackerFlag` the embedded tracker's own port (`serve --tracker-port`, whose failures
 * the gateway labels `tracker tcp …`). Anything else is returned as it is.
 */
export function withPortHint(err: unknown, listenFlag: string, peerFlag?: string, trackerFlag = listenFlag): unknown {
  if (!(err instanceof TorrenttpError)) return err;
  if (BIND_CODES.has(err.code) && /^(?:tracker )?(?:tcp|udp) /.test(err.detail ?? '') && inUse(err)) {
    const flag = err.detail!.startsWith('tracker ') ? trackerFlag : listenFlag;
    return new TorrenttpError(err.code, { detail: `${err.detail}: in use (EADDRINUSE); choose another with ${flag} N, or ${flag} 0 for any free port`, cause: err });
  }
  if (err.code === 'ENGINE_PORT_IN_USE' && peerFlag !== undefined) {
    return new TorrenttpError('ENGINE_PORT_IN_USE', { detail: `${err.detail ?? ''}: choose another with ${peerFlag} N, or leave ${peerFlag} out for any free port`, cause: err });
  }
  return err;
}
