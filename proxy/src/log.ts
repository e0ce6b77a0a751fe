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
  // Flush what is buffered when the process ends on its own.
  process.once('beforeExit', () => flushLogger(logger));
  return logger;
}

const destinations = new WeakMap<Logger, ReturnType<typeof pino.destination>>();

/** Write buffered log lines now (before process.exit). */
export function flushLogger(logger: Logger): void {
  try {
    destinations.get(logger)?.flushSync();
  } catch {
    // a full pipe or a closed stdout: nothing more can be written
  }
}

export const silentLogger: Logger = pino({ level: 'silent' });
