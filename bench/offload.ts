/**
 * Origin offload: N clients fetch one file from `serve` at once, as plain HTTP (`curl`) and with
 * `torrenttp get`, same server, same run:
 *
 *   npm run bench:offload -- [--size-mib 64] [--clients 20] [--no-super-seed]
 *
 * Reported per case: the origin's upload (its seed's wire bytes plus every plain-HTTP byte, from
 * `/.torrenttp/status.json`) as a multiple of the file, the wall time until the last client is
 * done, and the CPU each client used (user + system, from `/usr/bin/time`). Every output is
 * checked against the payload (SHA-1). The gateway runs in this process (so `--no-super-seed`
 * can turn the seed's BEP 16 mode off); the clients are processes of their own.
 */
import { runOffload } from './offload-run.js';

await runOffload();
