// `tlsmesh injector --config FILE`: the mutating admission webhook over HTTPS.
// Loads the config and the serving certificate, starts the server, follows the
// certificate's Secret directory, stops on SIGTERM/SIGINT, re-reads on SIGHUP.
import { pino } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { loadInjectorConfig, requireServingTls } from '../../../injector/src/config.js';
import { createMetrics } from '../../../injector/src/metrics.js';
import { startInjectorServer } from '../../../injector/src/server.js';
import { readServingDir, TlsReloader } from '../../../injector/src/serving-tls.js';
import { ConfigError, CredentialError } from '../errors.js';
import { EVENT_LOOP_SAMPLE_MS } from '../metrics.js';
import { parseFlags, required } from './args.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags('injector', args, { config: { type: 'string' } });
  const config = loadInjectorConfig(required('injector', 'config', values.config ?? process.env.TLSMESH_INJECTOR_CONFIG));
  const tls = requireServingTls(config);
  const logger = pino({ name: 'tlsmesh-injector', level: config.logLevel, base: undefined });
  const metrics = createMetrics();
  collectDefaultMetrics({ register: metrics.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS }); // process CPU, memory, event-loop lag
  // At start a missing or broken certificate is bad input (exit 2, naming the field); later it is only refused.
  const credentials = await readServingDir(tls.dir).catch((err: unknown) => {
    throw err instanceof CredentialError ? new ConfigError('tls.dir', err.message.replace(/^serving certificate: /, ''), { cause: err }) : err;
  });
  const server = await startInjectorServer({ config, credentials, metrics, logger });
  const reloader = new TlsReloader({
    log: logger,
    dir: tls.dir,
    pollSeconds: tls.pollSeconds,
    current: credentials,
    onReload: (creds) => {
      server.setCredentials(creds);
      metrics.tlsReloads.inc({ result: 'ok' });
      logger.info({ fingerprint: creds.fingerprint, notAfter: creds.notAfter.toISOString() }, 'serving certificate reloaded');
    },
    onError: (err) => {
      metrics.tlsReloads.inc({ result: 'error' });
      logger.warn({ err: (err as Error).message }, 'serving certificate refused; the previous one stays in use');
    },
  });
  reloader.start();
  const { address, port } = server.address();
  logger.info({ address, port, fingerprint: credentials.fingerprint }, 'injector listening');

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      void Promise.all([reloader.stop(), server.close()]).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void reloader.check());
  });
}
