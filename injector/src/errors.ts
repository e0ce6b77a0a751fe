// The injector's error classes. Codes come from proxy/src/errors.ts ERROR_CODES.
import { TlsmeshError } from '../../proxy/src/errors.js';

/**
 * A pod or manifest that cannot be injected (an invalid annotation, a name
 * conflict). `problems` lists every problem found, not only the first.
 */
export class InjectError extends TlsmeshError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super('TLSMESH_ERR_INJECT', problems.join('; '), options);
    this.problems = problems;
  }
}

/** The reason label of a bad webhook request (bounded, see metrics.ts). */
export type AdmissionErrorReason =
  | 'too_large'
  | 'unsupported_media_type'
  | 'bad_json'
  | 'not_admission_review'
  | 'missing_field'
  | 'bad_method'
  | 'not_found';

/** A webhook request that cannot be decoded: answered with `status` and the one-line message. */
export class AdmissionError extends TlsmeshError {
  readonly status: number;
  readonly reason: AdmissionErrorReason;
  constructor(status: number, reason: AdmissionErrorReason, message: string, options?: { cause?: unknown }) {
    super('TLSMESH_ERR_ADMISSION', message, options);
    this.status = status;
    this.reason = reason;
  }
}
