/** `--name N` from the command line as a number, or `dflt` when absent (the benches' flags). */
export function numberArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}
