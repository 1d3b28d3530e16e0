/** A throwaway TLS certificate for loopback HTTPS tests, made by Debian's `openssl`. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** A self-signed P-256 certificate for CN 127.0.0.1 (and, with `ipSan`, subjectAltName IP:127.0.0.1), valid one day: its PEM paths in `dir`. */
export function selfSignedCert(dir: string, opts: { readonly ipSan?: boolean } = {}): { readonly key: string; readonly cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const san = opts.ipSan === true ? ['-addext', 'subjectAltName=IP:127.0.0.1'] : [];
  const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', ...san, '-keyout', key, '-out', cert], { encoding: 'utf8' });
  assert.equal(ssl.status, 0, ssl.stderr);
  return { key, cert };
}
