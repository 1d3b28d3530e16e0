/** The MSE policies (mse-stream.ts), named without loading it (wire-lazy.ts). */
export type EncryptionPolicy = 'prefer' | 'require' | 'off';
export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['prefer', 'require', 'off'];

/** What a link's bytes are: a plain BEP 3 stream, or MSE with RC4 or with plaintext after its handshake. */
export type LinkEncryption = 'none' | 'rc4' | 'plaintext';
