/** The subset of pino the gateway logs through (pino's `(obj, msg)` call shape); the tracker's is the same. */
export interface GatewayLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentGatewayLogger: GatewayLogger = { debug: noop, info: noop, warn: noop, error: noop };
