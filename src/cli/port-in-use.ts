import { TorrenttpError } from '../errors/index.js';

/**
 * A server command's start that failed because a port is taken, said with the flag that picks
 * another (as `download --port` says it, commands/transfer.ts): `serve` and `proxy` said only
 * `tcp 0.0.0.0:8080: in use (EADDRINUSE)`, which leaves someone who ran `npm start` with nothing
 * to try. `listenFlag` chooses the listening port (`--port`), `peerFlag` the seed's BitTorrent
 * port (`--peer-port`), `trackerFlag` the embedded tracker's own port (`serve --tracker-port`,
 * whose failures the gateway labels `tracker tcp …`). Anything else is returned as it is.
 */
export function withPortHint(err: unknown, listenFlag: string, peerFlag: string, trackerFlag = listenFlag): unknown {
  if (!(err instanceof TorrenttpError)) return err;
  if (err.code === 'GATEWAY_BIND_FAILED' && (err.cause as { code?: unknown } | undefined)?.code === 'EADDRINUSE' && /^(?:tracker )?(?:tcp|udp) /.test(err.detail ?? '')) {
    const flag = err.detail!.startsWith('tracker ') ? trackerFlag : listenFlag;
    return new TorrenttpError('GATEWAY_BIND_FAILED', { detail: `${err.detail}: in use (EADDRINUSE); choose another with ${flag} N, or ${flag} 0 for any free port`, cause: err });
  }
  if (err.code === 'ENGINE_PORT_IN_USE') {
    return new TorrenttpError('ENGINE_PORT_IN_USE', { detail: `${err.detail ?? ''}: choose another with ${peerFlag} N, or leave ${peerFlag} out for any free port`, cause: err });
  }
  return err;
}
