/** What `untilSignal` logs: the shutdown and a close that failed (pino's shape). */
export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Runs a long-lived command (`serve`, `tracker`) until SIGINT or SIGTERM, then closes it; a
 * close that fails is logged, not thrown, so the process still ends. `onHup`, when given,
 * handles SIGHUP meanwhile (the tracker reloads its access lists). The handlers are removed
 * before the close, so a second signal gets Node's default: an immediate exit.
 */
export async function untilSignal(close: () => Promise<unknown>, logger: ShutdownLogger, onHup?: () => void): Promise<void> {
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (onHup !== undefined) process.off('SIGHUP', onHup);
      logger.info({ signal }, 'shutting down');
      close().then(
        () => done(),
        (err: unknown) => {
          logger.error({ err }, 'close failed');
          done();
        },
      );
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (onHup !== undefined) process.on('SIGHUP', onHup);
  });
}
