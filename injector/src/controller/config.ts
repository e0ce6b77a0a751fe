// `tlsmesh controller --config FILE`: the controller's own settings, plus the
// path of the injector's config file. The fields both sides must agree on (the
// trust domain, identity.secretNameTemplate, ignoredNamespaces, identity.source)
// are read from that file with the injector's own schema, so there is exactly
// one place to set them and no default that can drift.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../../../proxy/src/cli/args.js';
import { hostPort, seconds } from '../../../proxy/src/config/fields.js';
import { loadConfig, type DeepReadonly } from '../../../proxy/src/config/load.js';
import { ConfigError } from '../../../proxy/src/errors.js';
import type { BackoffPolicy } from './backoff.js';
import { goDuration } from './certificate.js';
import type { ControllerPolicy } from './plan.js';

/** cert-manager refuses a Certificate shorter than this, or renewed less than 5 minutes before expiry. */
const MIN_DURATION_MS = 3_600_000;
const MIN_RENEW_BEFORE_MS = 300_000;

const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined || ms % 1000 !== 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a whole number of seconds, minutes, hours or days, like 24h or 90d' });
    return z.NEVER;
  }
  return ms;
});

export const controllerConfigSchema = z
  .strictObject({
    /** The injector's config file; relative paths are relative to this file. */
    injectorConfig: z.string().min(1, 'expected a file path'),
    issuerRef: z
      .strictObject({
        name: z.string().min(1).default('tlsmesh-ca'),
        kind: z.string().min(1).default('ClusterIssuer'),
        group: z.string().min(1).default('cert-manager.io'),
      })
      .prefault({}),
    duration: duration.prefault('24h'),
    renewBefore: duration.prefault('8h'),
    /** Reconcile the whole cache this often even when nothing changed. */
    resyncSeconds: seconds(1).default(300),
    /** Each watch asks the API server to end it after this x [1, 2) seconds. */
    watchTimeoutSeconds: seconds(1).default(300),
    backoff: z
      .strictObject({ initialSeconds: seconds(0.001).default(0.5), maxSeconds: seconds(0.001).default(60) })
      .prefault({}),
    admin: z.strictObject({ listen: hostPort.prefault('0.0.0.0:15020') }).prefault({}),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.duration < MIN_DURATION_MS) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'must be at least 1h (cert-manager refuses less)' });
    if (c.renewBefore < MIN_RENEW_BEFORE_MS) ctx.addIssue({ code: 'custom', path: ['renewBefore'], message: 'must be at least 5m (cert-manager refuses less)' });
    if (c.renewBefore >= c.duration) ctx.addIssue({ code: 'custom', path: ['renewBefore'], message: 'must be shorter than duration' });
    if (c.backoff.initialSeconds > c.backoff.maxSeconds) ctx.addIssue({ code: 'custom', path: ['backoff', 'initialSeconds'], message: 'must not exceed backoff.maxSeconds' });
  });

export type ControllerConfig = DeepReadonly<z.output<typeof controllerConfigSchema>>;

/** What the controller takes from the injector's config. */
export interface SharedSettings {
  trustDomain: string;
  secretNameTemplate: string;
  ignoredNamespaces: readonly string[];
  /** `identity.source`: Certificates are made only for `secret`. */
  identitySource: string;
}

export interface ControllerSettings {
  config: ControllerConfig;
  policy: ControllerPolicy;
  backoff: BackoffPolicy;
}

export function loadControllerConfig(file: string, loadShared: (file: string) => SharedSettings): ControllerSettings {
  const config = loadConfig(file, controllerConfigSchema);
  const injectorFile = resolve(dirname(file), config.injectorConfig);
  let shared: SharedSettings;
  try {
    shared = loadShared(injectorFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError('injectorConfig', `${injectorFile}: ${err.message.replace(/^config: /, '')}`, { cause: err });
  }
  return settingsFrom(config, shared);
}

export function settingsFrom(config: ControllerConfig, shared: SharedSettings): ControllerSettings {
  if (!shared.secretNameTemplate.includes('{serviceAccount}')) {
    // Without it every ServiceAccount of a namespace would share one Secret.
    throw new ConfigError('injectorConfig', 'identity.secretNameTemplate: must contain {serviceAccount} for the certificate controller');
  }
  return {
    config,
    policy: {
      trustDomain: shared.trustDomain,
      secretNameTemplate: shared.secretNameTemplate,
      ignoredNamespaces: [...shared.ignoredNamespaces],
      issueCertificates: shared.identitySource === 'secret',
      issuerRef: { ...config.issuerRef },
      duration: goDuration(config.duration),
      renewBefore: goDuration(config.renewBefore),
    },
    backoff: { initialMs: config.backoff.initialSeconds * 1000, maxMs: config.backoff.maxSeconds * 1000, jitter: 0.2 },
  };
}
