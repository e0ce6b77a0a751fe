// `tlsmesh proxy --config FILE` (or TLSMESH_CONFIG=FILE): run the sidecar.
import { loadProxyConfig, type FrozenProxyConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { originalDstProblem } from '../capture/original-dst.js';
import { closeLogger, createLogger } from '../log.js';
import { Sidecar } from '../sidecar.js';
import { parseFlags } from './args.js';
import { UsageError } from '../errors.js';

export function configFileFrom(command: string, flag: string | undefined): string {
  const file = flag ?? process.env.TLSMESH_CONFIG;
  if (!file) throw new UsageError(`${command}: --config: required (or set TLSMESH_CONFIG)`);
  return file;
}

/** `original` needs the SO_ORIGINAL_DST addon: say so at start, naming the field. */
function checkOriginal(cfg: FrozenProxyConfig): void {
  const uses = [
    ...cfg.inbound.map((l, i) => (l.forward === 'original' ? `inbound[${i}].forward` : undefined)),
    ...cfg.outbound.map((l, i) => (l.connect === 'original' ? `outbound[${i}].connect` : undefined)),
  ].filter((f): f is string => f !== undefined);
  if (uses.length === 0) return;
  const problem = originalDstProblem();
  if (problem) throw new ConfigError(uses[0]!, `original needs the SO_ORIGINAL_DST addon: ${problem}`);
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags('proxy', args, { config: { type: 'string', short: 'c' } });
  const cfg = loadProxyConfig(configFileFrom('proxy', values.config));
  checkOriginal(cfg);
  const log = createLogger(cfg.logLevel);
  const sidecar = new Sidecar({ config: cfg, log });
  await sidecar.start();
  return new Promise<number>((resolve) => {
    process.on('SIGHUP', () => {
      log.info({ event: 'sighup' }, 'SIGHUP: reloading identity and trust bundle');
      void sidecar.reload('SIGHUP').then((result) => log.info({ event: 'reload', trigger: 'SIGHUP', result }, `SIGHUP reload: ${String(result)}`));
    });
    const stop = (signal: string) => {
      log.info({ event: 'signal', signal }, `${signal}: draining`);
      void sidecar
        .drain()
        .then(() => closeLogger(log))
        .then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
