/**
 * Every error tlsmesh raises on purpose carries a stable code. The table in
 * docs/errors.md lists exactly these codes (a test keeps the two in step).
 */
export const ERROR_CODES = {
  TLSMESH_ERR_USAGE: 'a command line flag or argument is wrong (exit 2)',
  TLSMESH_ERR_CONFIG: 'a config file is missing, not YAML, or a field is wrong (exit 2)',
  TLSMESH_ERR_CREDENTIAL: 'identity material (certificate, key, bundle) is unreadable or invalid',
  TLSMESH_ERR_PEER_IDENTITY: 'a peer certificate was refused; the reason label says why',
  TLSMESH_ERR_CAPTURE: 'transparent capture (iptables, original destination) failed',
  TLSMESH_ERR_LISTEN: 'a listener could not bind its address (in use, not available)',
  TLSMESH_ERR_UPSTREAM: 'the app or the peer could not be reached',
  TLSMESH_ERR_ADMISSION: 'an AdmissionReview could not be decoded or answered',
  TLSMESH_ERR_INJECT: 'a pod or manifest could not be injected',
  TLSMESH_ERR_CA: 'the dev issuer could not create or issue a certificate',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TlsmeshError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad command line: main prints the message as one line and exits 2. */
export class UsageError extends TlsmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_USAGE', message, options);
  }
}

/** Bad config: the message starts with `config: <field>: ` and main exits 2. */
export class ConfigError extends TlsmeshError {
  readonly field: string;
  constructor(field: string, why: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_CONFIG', field ? `config: ${field}: ${why}` : `config: ${why}`, options);
    this.field = field;
  }
}

export class CredentialError extends TlsmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_CREDENTIAL', message, options);
  }
}

export class CaptureError extends TlsmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_CAPTURE', message, options);
  }
}

/** True for errors that mean "the user gave us something wrong": exit status 2. */
export function isInputError(err: unknown): err is UsageError | ConfigError {
  return err instanceof UsageError || err instanceof ConfigError;
}

/** The message of any thrown value, on one line. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
