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
  // Flush what is buffered when the process ends on its own.
  process.once('beforeExit', () => dest.flushSync());
  return logger;
}

/** Flush buffered log lines now (before process.exit). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // nothing to flush
  }
}

export const silentLogger: Logger = pino({ level: 'silent' });
