/**
 * Origin offload: N clients fetch one file from `serve` at once, as plain HTTP (`curl`) and with
 * `torrenttp get`, same server, same run:
 *
 *   npm run bench:offload -- [--size-mib 64] [--clients 20] [--no-super-seed] [--base-cli PATH] [--rounds N] [--get-node-args ARGS] [--max-upload-rate R]
 *
 * `--base-cli /other/checkout/dist/src/cli/main.js` adds a third case, the gets of another build
 * (before/after in one run, same server); `--rounds N` runs the cases in turn N times;
 * `--get-node-args='--cpu-prof --cpu-prof-dir=/tmp/p'` gives this build's gets those node flags
 * (not the base CLI's: name this build as `--base-cli` to compare a flag side by side). The gets
 * run node with `--openssl-legacy-provider`, as the `torrenttp` command's shebang does (without
 * it there is no RC4, and a get's `prefer` would quietly dial plain).
 *
 * `--max-upload-rate R` caps everything the server sends at R bytes/s (`serve --max-upload-rate`:
 * plain bodies, web-seed ranges and the seed's peers share one bucket), the same cap for every
 * case. Without it the origin's uplink is loopback's, which no deployment has: `100000000`
 * (100 MB/s, 0.8 Gbit/s) is what a 1 Gbit/s origin port delivers to TCP once it carries anything
 * else; docs/serve.md (Origin offload) has both figures.
 *
 * Reported per case: the origin's upload (its seed's wire bytes plus every plain-HTTP byte, from
 * `/.torrenttp/status.json`) as a multiple of the file, the wall time until the last client is
 * done, and the CPU each client used (user + system, from `/usr/bin/time`). Every output is
 * checked against the payload (SHA-1). The gateway runs in this process (so `--no-super-seed`
 * can turn the seed's BEP 16 mode off); the clients are processes of their own.
 *
 * With both curl and this build's gets in the run, it ends with the gets' floor: what N gets of no
 * cost but the work itself must spend on this machine (a curl's CPU, node's start, SHA-1, the
 * uploads between gets at a send from memory, the origin's share), and two bounds on the last get
 * beside the last curl (two free cores; a busy machine, where time goes with CPU). docs/serve.md,
 * "The floor of a crowd of gets".
 */
import { runOffload } from './offload-run.js';

await runOffload();
