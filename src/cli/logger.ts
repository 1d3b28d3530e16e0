import { Option } from 'commander';
import type { Logger } from 'pino';
import { escapeControls } from '../errors/index.js';
import type { CliContext } from './context.js';
import { oneOf } from './options.js';

/**
 * The log of the long-running commands (`serve`, `proxy`, `tracker`): pino on stderr, as one
 * readable line per entry on a terminal (pino-pretty: time, level, message, then the entry's
 * fields as JSON) and as one JSON object per line anywhere else (a pipe, a file, systemd's
 * journal, a log shipper), which `--log-format` overrides. The human output of the command
 * (what it serves, where) goes to stdout either way.
 */
export type LogFormat = 'pretty' | 'json';

export interface LogFlags {
  readonly logLevel: string;
  readonly logFormat?: LogFormat;
}

/** `--log-level`; `levelHelp` says what the command logs. */
export function logLevelOption(levelHelp = 'logs go to stderr'): Option {
  return new Option('--log-level <level>', `pino log level (${levelHelp})`).argParser(oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent')).default('info');
}

/** `--log-format`: no default value, so that `logFormat` can look at the terminal. */
export function logFormatOption(): Option {
  return new Option('--log-format <format>', 'pretty (one readable line per entry; the default on a terminal) or json (one JSON object per line; the default otherwise)').argParser(oneOf<LogFormat>('pretty', 'json'));
}

export function logFormat(ctx: CliContext, flags: LogFlags): LogFormat {
  return flags.logFormat ?? (ctx.stderr.isTTY === true ? 'pretty' : 'json');
}

/** The command's logger; pino and pino-pretty load here, with the command that logs. */
export async function commandLogger(ctx: CliContext, flags: LogFlags): Promise<Logger> {
  const { pino } = await import('pino');
  // pino's own `err` adds each cause's message to the error's: ours often quote it already
  // (`…: ENOTDIR: not a directory, stat '…'`), which then read twice on one line.
  const serializers = {
    err: (err: Error) => {
      const out = pino.stdSerializers.err(err);
      if (err instanceof Error && typeof out === 'object' && out !== null) {
        out.message = escapeControls(messageOnce(err));
        if (typeof out.stack === 'string') out.stack = escapeControls(out.stack).replaceAll('\\x0a', '\n'); // its own lines kept
      }
      return out;
    },
  };
  // An entry's text fields (a URL, a Host header, a tracker's or origin's message) with their
  // control characters escaped: JSON escapes C0 but not C1 (U+009B is a CSI), pino-pretty neither.
  const formatters = { log: (obj: Record<string, unknown>) => escapeFields(obj) };
  const hooks = { logMethod: escapeMessage };
  if (logFormat(ctx, flags) === 'json') return pino({ level: flags.logLevel, serializers, formatters, hooks }, pino.destination(2));
  const { default: pretty } = await import('pino-pretty');
  const stream = pretty({
    destination: 2,
    sync: true,
    colorize: ctx.stderr.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
  });
  return pino({ level: flags.logLevel, serializers, formatters, hooks }, stream);
}

/** `obj` with its string fields, and those of plain objects in it (one level), escaped. */
function escapeFields(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(obj)) {
    let shown = v;
    if (typeof v === 'string') shown = escapeControls(v);
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) shown = escapeFields(v as Record<string, unknown>);
    if (shown !== v) (out ??= { ...obj })[k] = shown;
  }
  return out ?? obj;
}

/** pino's `logMethod` hook: a message given as a string argument, escaped. */
function escapeMessage(this: Logger, args: Parameters<Logger['info']>, method: (...a: Parameters<Logger['info']>) => void): void {
  method.apply(this, args.map((a) => (typeof a === 'string' ? escapeControls(a) : a)) as Parameters<Logger['info']>);
}

/**
 * An error's message and its causes' messages, each cause's said only when the text before does
 * not already hold it, or, for a system error, name its code: the storage quotes an `fs` error
 * without the path the user reads already, or the `/proc/self/fd/N/name` it worked through.
 */
export function messageOnce(err: Error): string {
  let text = err.message;
  for (let cause = err.cause, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && text.includes(`${code}:`)) continue;
    if (!text.includes(cause.message)) text += `: ${cause.message}`;
  }
  return text;
}
