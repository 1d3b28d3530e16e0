/** A throwaway TLS certificate for loopback HTTPS tests, made by Debian's `openssl`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A self-signed P-256 certificate for CN 127.0.0.1 (and, with `ipSan`, subjectAltName IP:127.0.0.1), valid one day: its PEM paths in `dir`. */
export function selfSignedCert(dir: string, opts: { readonly ipSan?: boolean } = {}): { readonly key: string; readonly cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const san = opts.ipSan === true ? ['-addext', 'subjectAltName=IP:127.0.0.1'] : [];
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', ...san, '-keyout', key, '-out', cert], { encoding: 'utf8' });
  assert.equal(ssl.status, 0, ssl.stderr);
  return { key, cert };
}

/**
 * An HTTPS server on 127.0.0.1 with a fresh `selfSignedCert` (IP SAN, PEM files in `dir`); its
 * connections and itself closed when the test ends. Its origin (`https://127.0.0.1:PORT`) and the
 * certificate's and key's paths (for `--cacert`).
 */
export async function selfSignedHttps(t: TestContext, dir: string, handler: RequestListener): Promise<{ readonly origin: string; readonly cert: string; readonly key: string }> {
  const { key, cert } = selfSignedCert(dir, { ipSan: true });
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, cert, key };
}
