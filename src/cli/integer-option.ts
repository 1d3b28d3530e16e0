import { InvalidArgumentError } from 'commander';

/**
 * Integer option values for commander's `argParser`: a bad value throws `InvalidArgumentError`,
 * which commander reports as a usage error naming the option (`option '--port <n>' argument
 * 'abc' is invalid. not an integer from 0 to 65535`). Its own module, so `get` takes them without
 * loading options.ts (which compiles the metainfo and tracker layers a plain get never needs).
 */

/** An integer from `min` to `max`. */
export function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`not an integer from ${min} to ${max}`);
    return n;
  };
}

/** A TCP/UDP port; 0 (any free port) only where `allowAny`. */
export const port = (allowAny: boolean): ((value: string) => number) => integer(allowAny ? 0 : 1, 65535);
