// One JSON line per event on stdout, written asynchronously and in batches
// (pino + sonic-boom) so that logging never blocks the data path. Never pass key material here.
import pino from 'pino';
import { LogBatch } from './log-batch.js';

export type Logger = pino.Logger;
const WARN = 40;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel = 'info', component = 'proxy'): Logger {
  // Info lines (one per connection and per request) are gathered and written
  // 8 KiB at a time, or every 200 ms when traffic is light: one write per many
  // lines instead of one (and a thread-pool round trip) per line. Warnings and
  // errors are rare and wanted now: they go out at once, with what is queued
  // before them. closeLogger() writes out what is left.
  // The batching is LogBatch's (log-batch.ts); sonic-boom writes each batch as it comes.
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const batch = new LogBatch(dest);
  const logger = pino(loggerOptions(level, component, () => batch.flush()), batch);
  destinations.set(logger, { dest, batch });
  // Nobody reads our stdout any more (EPIPE): stop logging rather than fail or
  // spin; the proxy's job is traffic, not its log.
  dest.on('error', () => {
    logger.level = 'silent';
    batch.close(false);
    destinations.delete(logger);
  });
  return logger;
}

/** pino's options for our logger; `flush` writes out what is queued (after each warning or error). */
export function loggerOptions(level: LogLevel, component: string, flush: () => void): pino.LoggerOptions {
  return {
    level,
    hooks: {
      logMethod(args, method, lvl) {
        method.apply(this, args);
        if (lvl >= WARN) flush();
      },
    },
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

const destinations = new WeakMap<Logger, { dest: ReturnType<typeof pino.destination>; batch: LogBatch }>();

/**
 * Write what is buffered and close the log (before process.exit), waiting at
 * most `timeoutMs`. Closing matters: pino otherwise calls sonic-boom's
 * flushSync at exit, which retries for ever on a broken pipe.
 */
export function closeLogger(logger: Logger, timeoutMs = 1000): Promise<void> {
  const out = destinations.get(logger);
  if (!out) return Promise.resolve();
  destinations.delete(logger);
  out.batch.close(true);
  const { dest } = out;
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
