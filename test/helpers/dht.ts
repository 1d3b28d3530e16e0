import { DhtNode } from '../../src/dht/index.js';

/** A DHT node on 127.0.0.1 (any port, short query timeout), joined through `bootstrap`'s port if given, and ready. */
export async function loopbackDhtNode(bootstrap?: number): Promise<DhtNode> {
  const n = new DhtNode({ host: '127.0.0.1', timeoutMs: 500, ...(bootstrap === undefined ? {} : { bootstrap: [`127.0.0.1:${bootstrap}`] }) });
  await n.start();
  await n.whenReady();
  return n;
}
