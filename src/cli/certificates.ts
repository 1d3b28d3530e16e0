/** OpenSSL's verdicts (node's `err.code`) on a server certificate that no CA this process trusts has signed: the error line's hint to trust it (program.ts). */
export const UNTRUSTED_CERTIFICATE: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

/** Every verdict on a server certificate, the untrusted ones and the rest, and node's name check: curl's exit 60 (get-exit.ts). */
export const CERTIFICATE_CODES: readonly string[] = [
  ...UNTRUSTED_CERTIFICATE,
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
];
