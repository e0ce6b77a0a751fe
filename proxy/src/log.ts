// One JSON line per event on stdout, written asynchronously (pino + sonic-boom)
// so that logging never blocks the data path. Never pass key material here.
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel = 'info', component = 'proxy'): Logger {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const logger = pino(
    {
      level,
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  destinations.set(logger, dest);
  // Nobody reads our stdout any more (EPIPE): stop logging rather than fail or
  // spin; the proxy's job is traffic, not its log.
  dest.on('error', () => {
    logger.level = 'silent';
    destinations.delete(logger);
  });
  return logger;
}

const destinations = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

/**
 * Write what is buffered and close the log (before process.exit), waiting at
 * most `timeoutMs`. Closing matters: pino otherwise calls sonic-boom's
 * flushSync at exit, which retries for ever on a broken pipe.
 */
export function closeLogger(logger: Logger, timeoutMs = 1000): Promise<void> {
  const dest = destinations.get(logger);
  if (!dest) return Promise.resolve();
  destinations.delete(logger);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        dest.destroy();
      } catch {
        // already gone
      }
      resolve();
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    dest.once('close', done);
    dest.once('error', done);
    try {
      dest.end();
    } catch {
      done();
    }
  });
}
