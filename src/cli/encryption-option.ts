import { InvalidArgumentError } from 'commander';

/**
 * `--encryption prefer|require|off`: MSE/PE for BitTorrent peers (docs/transport.md). Its own
 * module, so `get` declares it without loading options.ts (which compiles the metainfo and
 * tracker layers a plain get never needs).
 */
export function encryptionPolicy(value: string): 'prefer' | 'require' | 'off' {
  const v = value.trim().toLowerCase();
  if (v === 'prefer' || v === 'require' || v === 'off') return v;
  throw new InvalidArgumentError('not one of prefer, require, off');
}

const POLICIES_HELP =
  'encryption (MSE/PE) with BitTorrent peers: prefer (encrypted first, plain if the peer refuses), require (encrypted only, both ways), off (dial plain; encrypted peers are still answered, in plaintext when they allow it)';

export const ENCRYPTION_HELP = `${POLICIES_HELP}; default prefer`;

/** `get`'s default follows the URL (gateway/swarm-get.ts `swarmEncryptionOf`). */
export const GET_ENCRYPTION_HELP = `${POLICIES_HELP}; default off for an http:// URL, prefer for https://`;
