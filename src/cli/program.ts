import { Command, CommanderError, Help, type Option } from 'commander';
import { TorrenttpError } from '../errors/index.js';
import { causeCodes } from '../gateway/client.js';
import type { CliContext } from './context.js';
import { UNTRUSTED_CERTIFICATE } from './certificates.js';
import { clipUrls } from './format.js';

/**
 * Builds the `torrenttp` command. Each command lives in `commands/<name>.ts` and exports
 * `register(program, ctx)`; this file only wires them up and owns error reporting:
 * one clear line and a non-zero exit, a stack only with `--debug`.
 */
export type Register = (program: Command, ctx: CliContext) => void;

export function buildProgram(ctx: CliContext, commands: readonly Register[]): Command {
  const program = new Command('torrenttp')
    .description('BitTorrent as easy as the web')
    .version('0.1.0')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run torrenttp --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .configureHelp({
      // A repeatable option starts from an empty list: "(default: [])" tells the user nothing.
      optionDescription(this: Help, option: Option): string {
        const text = Help.prototype.optionDescription.call(this, option);
        return Array.isArray(option.defaultValue) && option.defaultValue.length === 0 ? text.replace(/ \(default: \[\]\)$/, '') : text;
      },
    })
    .exitOverride();
  for (const register of commands) register(program, ctx);
  // A usage error in a command points to that command's help, where its options are.
  for (const command of program.commands) command.showHelpAfterError(`(run torrenttp ${command.name()} --help for usage)`);
  return program;
}

/** Runs argv and returns the exit code instead of exiting, so tests can call it in-process. */
export async function runProgram(ctx: CliContext, commands: readonly Register[], argv: readonly string[]): Promise<number> {
  const program = buildProgram(ctx, commands);
  const debug = argv.includes('--debug');
  // The command that ran: an error's hint names only flags that command has.
  let running: Command | undefined;
  program.hook('preAction', (_program, action) => {
    running = action;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit with 0; usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    ctx.stderr.write(`torrenttp: ${clipUrls(describe(err, running))}\n`); // a 20 KB URL refused with a 431 is not repeated whole
    if (debug && err instanceof Error && err.stack) ctx.stderr.write(`${err.stack}\n`);
    return ctx.exitCode ?? 1; // a command that tells its failures apart (get: curl's codes) set it before throwing
  }
}

function describe(err: unknown, command: Command | undefined): string {
  if (err instanceof TorrenttpError) return `${err.message}${causeNote(err)}${certificateNote(err, command)} [${err.code}]`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** What the system said, for the errno codes a user meets most, when the message does not say it already. */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EADDRINUSE: 'in use',
  EADDRNOTAVAIL: 'no such address on this machine',
  ELOOP: 'a loop of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOENT: 'no such file or folder',
  ENOSPC: 'no space left on the device',
  ENOTDIR: 'not a folder',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
};

/**
 * ` (DEPTH_ZERO_SELF_SIGNED_CERT; …NODE_EXTRA_CA_CERTS…)` for a request whose server certificate
 * was not trusted: what curl's --cacert and wget's --ca-certificate do, node takes from the
 * environment at start, and `get` from its own `--cacert` (docs/cli.md, "HTTPS"): named only for
 * a command that has it (`download https://…` has not).
 */
function certificateNote(err: TorrenttpError, command: Command | undefined): string {
  const code = causeCodes(err.cause).find((c) => UNTRUSTED_CERTIFICATE.has(c));
  if (code === undefined) return '';
  const flag = command?.options.some((o) => o.long === '--cacert') === true ? `, or ${command.name()} --cacert ca.pem` : '';
  return ` (${code}; to trust the server's certificate or its CA, run with NODE_EXTRA_CA_CERTS=ca.pem${flag})`;
}

/**
 * `: in use (EADDRINUSE)` for an error whose cause is a system error the message does not name;
 * also `get`'s own write failure, which it prints before its exit code (commands/get.ts).
 */
export function causeNote(err: TorrenttpError): string {
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code) || err.message.includes(code)) return '';
  if (code === 'ENOENT' && err.code.endsWith('_NOT_FOUND')) return ''; // `input not found: /x.torrent` says it
  const words = ERRNO_WORDS[code];
  return words === undefined ? ` (${code})` : `: ${words} (${code})`;
}
