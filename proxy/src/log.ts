// One JSON line per event on stdout, written asynchronously and in batches
// (pino + sonic-boom) so that logging never blocks the data path. Never pass key material here.
import pino from 'pino';

export type Logger = pino.Logger;
const WARN = 40;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel = 'info', component = 'proxy'): Logger {
  // Info lines (one per connection and per request) are gathered and written
  // 8 KiB at a time, or every 200 ms when traffic is light: one write per many
  // lines instead of one (and a thread-pool round trip) per line. Warnings and
  // errors are rare and wanted now: they go out at once, with what is queued
  // before them. closeLogger() writes out what is left.
  const dest = pino.destination({ dest: 1, sync: false, minLength: 8192, periodicFlush: 200 });
  const logger = pino(
    {
      level,
      hooks: {
        logMethod(args, method, lvl) {
          method.apply(this, args);
          if (lvl >= WARN) dest.flush();
        },
      },
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
