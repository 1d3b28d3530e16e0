import { existsSync, writeFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { getUrl, nameFromUrl, setClientTls, type GetOutput, type GetResult } from '../../gateway/client.js';
import { TorrenttpError } from '../../errors/index.js';
import type { CliContext } from '../context.js';
import { encryptionPolicy, GET_ENCRYPTION_HELP } from '../encryption-option.js';
import { clip, parseRate, RATE_HELP } from '../format.js';
import { GET_EXIT, getExitCode } from '../get-exit.js';
import { port as portNumber } from '../integer-option.js';
import { collect, CURL_RANGE, type GetFlags, HEADER_NAME, INVALID_HEADER_VALUE, readCa, seconds, wgetSpellings } from '../get-options.js';
import { GetReporter } from '../get-report.js';
import { withPortHint } from '../port-in-use.js';
import { formatHead, headField, HeadWatch, verboseLines } from '../get-heads.js';
import { compileWriteOut, WRITE_OUT_VARIABLES, writeOutFormat } from '../get-write-out.js';
import { causeNote } from '../program.js';
import { usageError } from '../usage-error.js';

/**
 * `torrenttp get URL`: curl/wget with the swarm behind it. The work is `getUrl` (gateway layer);
 * this file maps flags to it (read by get-options.ts), has the progress drawn (get-report.ts)
 * and turns the outcome into an exit code:
 * curl's wherever the failure means the same (get-exit.ts, the one table), 2 usage, 130
 * interrupted. A reader that closes stdout early
 * (`get URL -o - | head`) ends the get quietly with 0, as every command (main.ts). Each early end
 * goes through the get's own stop: the swarm tells its trackers `stopped` (swarm-get.ts).
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description('download a URL (curl/wget-like); from the swarm when the server offers a torrent')
    .argument('<url>', 'http(s) URL')
    .argument('[output]', '"-" writes to stdout (same as -o -)')
    .option('-o, --output <file>', 'write to FILE ("-" for stdout); for a multi-file torrent, the folder')
    .option('-O, --remote-name', "name the file after the URL's last segment (the default)")
    .option('-J, --remote-header-name', "name the file as the server does: Content-Disposition's name (a swarm's: the torrent's), never replacing a file")
    .option('--output-dir <dir>', 'save into DIR (with -o, -O or the default name); made if missing')
    .option('-P, --directory-prefix <dir>', 'as --output-dir (wget)')
    .option('--create-dirs', 'accepted for curl: missing folders of the output are always made')
    .option('-C, --continue-at <offset>', 'resume: only "-" (continue from the size of the file on disk)')
    .option('-c, --continue', 'resume a partial download (as -C -)')
    .option('--seed', 'after a swarm download, keep seeding until interrupted')
    .option('--no-swarm', 'plain HTTP only: never ask for the torrent')
    .option('-H, --header <line>', 'extra request header "Name: value"; repeatable', collect, [])
    .option('-r, --range <range>', 'only these bytes (curl\'s: 0-499, 500-, -500; a list "0-9,20-29" is sent as it is), over plain HTTP')
    .option('-A, --user-agent <name>', 'the User-Agent header (default "torrenttp")')
    .option('-e, --referer <url>', 'the Referer header')
    .option('-u, --user <user:password>', 'HTTP Basic credentials, sent only to the URL\'s own origin (as -H Authorization)')
    .option('-I, --head', 'HEAD: print the response head (each of a redirect\'s) to stdout, write no file')
    .option('-D, --dump-header <file>', 'write the response heads to FILE ("-" for stdout): each redirect\'s, each interim (1xx), the final one')
    .option('-w, --write-out <format>', `print FORMAT to stdout at the end, done or failed: %{variable} (${WRITE_OUT_VARIABLES.join(', ')}), \\n; @FILE reads it from FILE, @- from stdin`)
    .option('-v, --verbose', 'on stderr: each request\'s and response\'s head, and where the bytes come from (plain, the swarm, a lone stream, the peers)')
    // wget's spellings of the same (docs/cli.md, "wget's flags").
    .option('-U <agent>', 'as -A (wget)')
    .option('--password <password>', 'with --user USER: as -u USER:PASSWORD (wget)')
    .option('--no-check-certificate', 'as -k (wget)')
    .option('--ca-certificate <file>', 'as --cacert (wget)')
    .option('-T, --timeout <seconds>', 'wget\'s: most time to connect, and for the answer, the body or the swarm to send anything (exit 28)')
    .option('-t, --tries <num>', 'wget\'s: at most NUM attempts, as --retry NUM-1; 0 is no limit')
    .option('--port <n>', 'BitTorrent listening port (default: any free port)', portNumber(true))
    .option('--encryption <policy>', GET_ENCRYPTION_HELP, encryptionPolicy)
    .option('--json', 'JSON lines: start, progress, summary (on stderr when the data goes to stdout)')
    .option('-s, --silent', 'no progress and no summary')
    .option('-q, --quiet', 'as -s (wget)')
    // curl's `-fsSLO URL` habit: what these ask for is what get always does.
    .option('-L, --location', 'accepted for curl: redirects are always followed (up to 20)')
    .option('-f, --fail', 'accepted for curl: an HTTP error status always fails (exit 22, no file)')
    .option('-S, --show-error', 'accepted for curl: errors are always shown, -s or not')
    .option('--compressed', 'accepted for curl: the body is asked for as it is (identity), the bytes curl --compressed saves')
    .option('--connect-timeout <seconds>', 'most time for each connection to the server, TLS included (exit 28)')
    .option('-m, --max-time <seconds>', 'most time for the whole download (exit 28; the partial file stays for -C -)')
    .option('--retry <num>', "retry a transient failure (timeout, refused or reset connection, 408/429/5xx) up to NUM times: 1 s, doubling, or the server's Retry-After")
    .option('--limit-rate <speed>', 'most bytes per second received (500K, 2M), plain or from the swarm')
    .option('-k, --insecure', 'no TLS certificate checks (server, web seeds, trackers); pieces are still verified')
    .option('--cacert <file>', "trust the CAs in this PEM file instead of node's (as NODE_EXTRA_CA_CERTS, which adds to them)")
    .addHelpText('after', `
Exit codes, curl's where the failure means the same (docs/cli.md, "get exit codes"):
  0 done, 1 other failure, 2 usage, 6 host not found, 7 cannot connect, 18 body cut short,
  22 HTTP error status, 23 cannot write, 28 timed out, 33 range refused (-C -), 35 TLS handshake, 47 too many redirects,
  52 empty reply, 56 connection reset, 60 certificate not trusted, 77 --cacert unreadable, 130 interrupted`)
    .action(async (url: string, positional: string | undefined, flags: GetFlags, cmd: Command) => {
      const usage = (message: string): never => usageError(cmd, message);
      // wget's `-O -` and `-qO-` (the document to stdout): curl's -O never takes "-". Commander
      // reads `-O -` before the URL as the URL "-", and `-qO-` as `-q -O --`, which would write a file.
      if (flags.remoteName === true && url === '-' && positional !== undefined) [url, positional] = [positional, '-'];
      if (flags.remoteName === true && ((cmd.parent as { rawArgs?: readonly string[] } | null)?.rawArgs ?? []).some((arg) => /^-[A-Za-z]*O-$/.test(arg))) {
        if (positional !== undefined && positional !== '-') usage(`unexpected argument ${JSON.stringify(positional)} (options go before -O-, which ends them)`);
        positional = '-';
      }
      if (positional === '-') flags.remoteName = undefined;
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        // reported below
      }
      if (parsed === undefined) {
        // wget's `-O FILE URL`: curl's -O takes no value, so FILE was read as the URL.
        if (flags.remoteName === true && positional !== undefined && URL.canParse(positional)) {
          return usage(`-O takes no file name (curl's -O: the name from the URL); to write ${JSON.stringify(clip(url))}, give -o ${clip(url)} (wget's -O FILE)`);
        }
        return usage(`${JSON.stringify(clip(url))} is not a valid URL${schemeHint(url, ctx.cwd)}`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') usage(`${JSON.stringify(clip(url))} is not an http(s) URL${schemeHint(url, ctx.cwd)}`);
      if (positional !== undefined && positional !== '-') usage(`unexpected argument ${JSON.stringify(positional)} (an output file goes after -o)`);
      if (flags.continueAt !== undefined && flags.continueAt !== '-') usage('-C takes only "-" (continue from the size of the file on disk)');
      if (flags.output === '') usage('-o needs a file name (or "-" for stdout)');
      if (flags.outputDir !== undefined && flags.directoryPrefix !== undefined) usage('--output-dir and -P are the same: give one');
      if (flags.outputDir === '' || flags.directoryPrefix === '') usage('--output-dir and -P need a folder');
      const outputDir = resolve(ctx.cwd, flags.outputDir ?? flags.directoryPrefix ?? '.');
      if (flags.head === true && ((flags.output !== undefined && flags.output !== '-') || flags.continueAt !== undefined || flags.continue === true || flags.seed === true)) usage('-I prints the head to stdout and writes no file: not with -o FILE, -C - or --seed');
      const toStdout = positional === '-' || flags.output === '-' || flags.head === true;
      const resume = flags.continueAt === '-' || flags.continue === true;
      if (resume && toStdout) usage('cannot resume a download to stdout');
      if (resume && flags.remoteHeaderName === true) usage('-J and -C - exclude each other (the name is not known before the answer)');
      const port = flags.port;
      const headers: Record<string, string> = {};
      for (const line of flags.header) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        // What node's http would refuse at the request ("request failed", exit 1): said as the usage error it is.
        if (colon <= 0 || !HEADER_NAME.test(name) || INVALID_HEADER_VALUE.test(value)) usage(`-H ${JSON.stringify(line)} is not "Name: value" (a name of letters, digits and !#$%&'*+-.^_\`|~; a value on one line)`);
        headers[name.toLowerCase()] = value;
      }
      const { stallMs } = wgetSpellings(flags, usage);
      // -A, -e, -u: headers as -H would give them (credentials only to the URL's own origin: redirect-headers.ts).
      for (const [flag, name, value] of [['-A', 'user-agent', flags.userAgent], ['-e', 'referer', flags.referer], ['-u', 'authorization', flags.user]] as const) {
        if (value === undefined) continue;
        if (INVALID_HEADER_VALUE.test(value)) usage(`${flag} ${JSON.stringify(clip(value))}: not one line`);
        if (name === 'authorization' && !value.includes(':')) usage('-u takes user:password (there is no password prompt)');
        // A -H of the same name wins, as curl's replaces the header it would make.
        if (headers[name] === undefined) headers[name] = name === 'authorization' ? `Basic ${Buffer.from(value, 'utf8').toString('base64')}` : value;
      }
      if (flags.range !== undefined) {
        if (!CURL_RANGE.test(flags.range)) usage(`-r ${JSON.stringify(clip(flags.range))}: not a byte range (0-499, 500-, -500, or a list of them)`);
        if (headers.range !== undefined) usage('-r and -H "Range: …" exclude each other');
        headers.range = `bytes=${flags.range}`;
      }
      if (resume && headers.range !== undefined) usage('-C - and -r (or -H "Range: …") exclude each other (-C - asks for the rest of the file)');
      if (flags.remoteName === true && nameFromUrl(url) === undefined) usage(`${clip(url)} has no file name to use with -O; give -o FILE`);
      const connectTimeoutMs = seconds(flags.connectTimeout, '--connect-timeout', usage);
      const maxTimeMs = seconds(flags.maxTime, '--max-time', usage);
      const retry = flags.retry === undefined ? undefined : /^\s*\d{1,9}\s*$/.test(flags.retry) ? Number(flags.retry) : usage(`--retry ${JSON.stringify(flags.retry)}: not a count (0 or more)`);
      const limitRate = flags.limitRate === undefined ? undefined : (parseRate(flags.limitRate) ?? usage(`--limit-rate ${JSON.stringify(flags.limitRate)}: ${RATE_HELP}`));
      const format = flags.writeOut === undefined ? undefined : await writeOutFormat(flags.writeOut, ctx.cwd, ctx.stdin ?? process.stdin).catch((err: unknown) => usage(`-w ${clip(flags.writeOut!)}: ${String((err as Error).message)}`));
      const compiled = format === undefined ? undefined : compileWriteOut(format);
      const writeOut = typeof compiled === 'string' ? usage(`-w: unknown variable %{${clip(compiled)}} (known: ${WRITE_OUT_VARIABLES.join(', ')})`) : compiled;
      if (flags.dumpHeader === '') usage('-D needs a file name (or "-" for stdout)');
      const startedMs = performance.now();

      baselineWasmOnly();
      optimizeOnlyTheHotPath();
      const output: GetOutput = toStdout
        ? { kind: 'stream', stream: ctx.stdout }
        : flags.output !== undefined
          ? { kind: 'file', path: keepTrailingSeparator(resolve(outputDir, flags.output), flags.output) }
          : { kind: 'named', dir: outputDir };
      const out = new GetReporter(ctx, flags.json === true, flags.silent === true || flags.quiet === true || flags.head === true, toStdout);
      const ac = new AbortController();
      // -m: the whole download, as curl's; it ends as Ctrl-C does (the partial file stays), with exit 28.
      let timedOut = false;
      const maxTimer = maxTimeMs === undefined ? undefined : setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, maxTimeMs);
      const onSignal = (): void => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      // The data's stream failing (its reader gone: EPIPE; a full disk: ENOSPC) ends the get as
      // Ctrl-C does, through the swarm's stop (`stopped` to the trackers). A progress stream failing
      // only loses the progress: the download goes on. main.ts, which would exit at once, leaves a
      // stream with a listener of its own to it.
      let streamError: NodeJS.ErrnoException | undefined;
      const onDataError = (err: NodeJS.ErrnoException): void => {
        streamError ??= err;
        ac.abort();
      };
      const onProgressError = (): void => undefined;
      const listening = [[ctx.stdout, toStdout ? onDataError : onProgressError], [ctx.stderr, onProgressError]] as const;
      for (const [stream, listener] of listening) stream.on('error', listener);
      let result: GetResult | undefined;
      // -D: the heads that led to the body, to stdout or a file (written once, synchronously: they are small, and on
      // stdout it must come before the body). A file that cannot be written fails the get (23) at the end.
      let dumpError: unknown;
      const dumpTo = flags.dumpHeader;
      const watch = new HeadWatch(dumpTo === undefined ? undefined : (text) => {
        if (dumpTo === '-') ctx.stdout.write(text);
        else try {
          writeFileSync(resolve(ctx.cwd, dumpTo), text);
        } catch (err) {
          dumpError ??= err;
        }
      });
      // -w: once, at the end, done or failed (curl's), with the exit the get ends with and why.
      let errorText = '';
      const printWriteOut = (): void => {
        if (writeOut === undefined) return;
        ctx.stdout.write(writeOut({
          httpCode: watch.last?.status ?? 0,
          sizeDownload: result?.downloadedBytes ?? watch.received,
          timeTotalSeconds: (performance.now() - startedMs) / 1000,
          urlEffective: watch.last?.url ?? url,
          exitCode: ctx.exitCode ?? 0,
          contentType: headField(watch.last, 'content-type'),
          filenameEffective: result?.path === undefined ? '' : filenameAsGiven(result.path, flags.output, flags.outputDir ?? flags.directoryPrefix, outputDir),
          numRedirects: watch.redirects,
          errorMessage: errorText,
        }));
      };
      try {
        if (flags.insecure === true || flags.cacert !== undefined) {
          const ca = flags.cacert === undefined ? undefined : await readCa(resolve(ctx.cwd, flags.cacert), flags.cacert);
          setClientTls({ ...(ca === undefined ? {} : { ca }), ...(flags.insecure === true ? { rejectUnauthorized: false } : {}) });
          if (flags.insecure === true) out.warn('-k: TLS certificates are not checked: the server (and its web seeds and trackers) is not authenticated; a swarm\'s pieces are still verified against the torrent');
        }
        result = await getUrl({
          url,
          output,
          resume,
          seed: flags.seed === true,
          plainOnly: !flags.swarm,
          head: flags.head === true,
          remoteHeaderName: flags.remoteHeaderName === true,
          headers,
          signal: ac.signal,
          onEvent: (e) => {
            if (e.type === 'seeding') clearTimeout(maxTimer); // done: the seeding after it is not the download's time
            if (e.type === 'response' && flags.head === true) ctx.stdout.write(formatHead(e.head));
            watch.event(e);
            if (flags.verbose === true) ctx.stderr.write(verboseLines(e));
            out.event(e);
          },
          ...(port === undefined ? {} : { port }),
          ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
          ...(stallMs === undefined ? {} : { stallMs }),
          ...(retry === undefined ? {} : { retry }),
          ...(limitRate === undefined ? {} : { limitRate }),
          ...(flags.encryption === undefined ? {} : { encryption: flags.encryption }),
        });
      } catch (caught) {
        // A taken --port names the flag, as download's and seed's --port do.
        const err = withPortHint(caught, { listen: '--port', peer: '--port' });
        streamError ??= writeFailure(err);
        if (streamError === undefined) {
          ctx.exitCode = timedOut ? GET_EXIT.timeout : getExitCode(err);
          errorText = err instanceof Error ? err.message : String(err);
          watch.flush();
          printWriteOut();
          throw err;
        }
      } finally {
        clearTimeout(maxTimer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        for (const [stream, listener] of listening) stream.off('error', listener);
        out.stop();
      }
      if (streamError === undefined && result !== undefined) {
        out.summary(result);
        if (result.status !== 'complete' && timedOut) {
          const got = result.totalBytes === undefined ? `${result.downloadedBytes} bytes` : `${result.downloadedBytes} of ${result.totalBytes} bytes`;
          errorText = `operation timed out after ${flags.maxTime} s (--max-time) with ${got} received`;
          ctx.stderr.write(`torrenttp: ${errorText}\n`);
          ctx.exitCode = GET_EXIT.timeout;
        } else if (result.status !== 'complete') {
          errorText = 'interrupted';
          ctx.exitCode = GET_EXIT.interrupted;
        }
      } else if (streamError?.code !== 'EPIPE') {
        errorText = describeWriteFailure(streamError);
        ctx.stderr.write(`torrenttp: ${errorText}\n`);
        ctx.exitCode = GET_WRITE_ERROR_EXIT;
      } // else the reader closed stdout: its choice
      watch.flush();
      if (dumpError !== undefined && (ctx.exitCode ?? 0) === 0) {
        errorText = `cannot write -D ${dumpTo}: ${String((dumpError as Error).message)}`;
        ctx.stderr.write(`torrenttp: ${errorText}\n`);
        ctx.exitCode = GET_EXIT.write;
      }
      printWriteOut();
    });
}

/**
 * `%{filename_effective}` as curl prints it: `-o`'s value as given, else the name the get chose
 * (the URL's, `-J`'s, the torrent's); after `--output-dir`/`-P` as given, joined with `/` as curl
 * joins them. A path `-o` gave absolute (which the folder does not change) stays as given.
 */
/**
 * What to add to "not a valid URL": curl and wget take `host/path` as `http://host/path`, a get
 * takes only a whole URL (so that `get x.torrent`, a file here, is never fetched from a host of
 * that name); say which one was meant.
 */
function schemeHint(url: string, cwd: string): string {
  if (existsSync(resolve(cwd, url))) return ' (a file here: get takes a URL; for a .torrent file, torrenttp download FILE)';
  return /^[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#]|$)/.test(url) && URL.canParse(`http://${url}`) ? ` (did you mean http://${clip(url)}?)` : '';
}

export function filenameAsGiven(path: string, output: string | undefined, dirFlag: string | undefined, outputDir: string): string {
  const name = output ?? relative(outputDir, path);
  return dirFlag === undefined || isAbsolute(name) ? name : `${dirFlag}/${name}`;
}

/** The exit code of a get whose output could not be written: curl's CURLE_WRITE_ERROR. */
export const GET_WRITE_ERROR_EXIT = GET_EXIT.write;

/**
 * `-o new/` names a folder (a multi-file torrent's; for one file, an error, as curl's and wget's
 * open fails): `resolve` would drop the slash, and the file be saved as `new`.
 */
function keepTrailingSeparator(resolved: string, given: string): string {
  return (given.endsWith('/') || given.endsWith(sep)) && !resolved.endsWith(sep) ? `${resolved}${sep}` : resolved;
}

/** Errors of writing the download (file, folder or stream), as opposed to getting it. */
const WRITE_FAILURES: ReadonlySet<string> = new Set(['GATEWAY_GET_OUTPUT', 'STORAGE_NO_SPACE', 'STORAGE_READ_ONLY', 'STORAGE_IO', 'EPIPE', 'ENOSPC', 'EDQUOT', 'EFBIG', 'EIO']);

function writeFailure(err: unknown): NodeJS.ErrnoException | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && WRITE_FAILURES.has(code) ? (err as NodeJS.ErrnoException) : undefined;
}

/**
 * `cannot write the download: /x/f: file name too long (ENAMETOOLONG) [GATEWAY_GET_OUTPUT]`, the
 * system error in words as every command's last line says it (program.ts); `cannot write the
 * download: ENOSPC: no space left on device, write` (stdout).
 */
function describeWriteFailure(err: NodeJS.ErrnoException | undefined): string {
  if (!(err instanceof TorrenttpError)) return `cannot write the download: ${String(err?.message)}`;
  return `${err.message}${causeNote(err)} [${err.code}]`;
}

/**
 * WebAssembly in this process gets V8's baseline code only (Liftoff), before undici compiles its
 * HTTP parser (llhttp). Otherwise V8 compiles the parser's hot function again, with its optimizing
 * compiler on a background thread: 0.3 to 0.6 s of CPU, and node waits for that job before the
 * process may exit, so a small file took a second longer than its download. The optimized parser
 * saves nothing here: on a body, llhttp only hands undici each chunk's span. Process-wide, so only
 * in this short-lived command, not in the library or in `serve` and `proxy`.
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}

/**
 * V8 optimizes a function once it has run about `--interrupt-budget` bytes of bytecode (66 KiB by
 * default). A get runs for seconds: at the default, TurboFan compiled some 190 functions per get
 * (start-up, negotiation, announces, node's streams), a quarter of them again after a deopt, and
 * that background compiling was the largest single share of a get's CPU (~17 %, perf, six gets in
 * one swarm). Four times the budget leaves the lukewarm code to the baseline compilers; the block
 * path (thousands of calls a second) still reaches TurboFan within its first megabytes. Six gets
 * of 256 MiB in one swarm: 4–6 % less CPU per get, in each of nine alternating rounds. Set before
 * the swarm's modules are loaded; process-wide, so only in this short-lived command.
 */
export const GET_INTERRUPT_BUDGET = 4 * 67_584;

function optimizeOnlyTheHotPath(): void {
  setFlagsFromString(`--interrupt-budget=${GET_INTERRUPT_BUDGET}`);
}
