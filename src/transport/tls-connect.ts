import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { getClientTls } from '../tracker/undici.js';

const require = createRequire(import.meta.url);
let tlsModule: typeof import('node:tls') | undefined;
/** `node:tls`, loaded at the first https connection (a plain http download does not load it). */
const loadTls = (): typeof import('node:tls') => (tlsModule ??= require('node:tls') as typeof import('node:tls'));

/**
 * A connection to an https origin as the process's other https clients make it: their trust
 * (`setClientTls`: `get --cacert`, `-k`; node's CAs and NODE_EXTRA_CA_CERTS otherwise), the host
 * name as SNI and as the name checked (not for an IP address), HTTP/1.1 by ALPN. The web seeds'
 * and HTTP peers' pool (http1-pool.ts) and a get's lone stream (gateway/lone-stream.ts).
 */
export function connectHttpsOrigin(host: string, port: number): TLSSocket {
  return loadTls().connect({ ...getClientTls(), host, port, ...(isIP(host) === 0 ? { servername: host } : {}), ALPNProtocols: ['http/1.1'] });
}
