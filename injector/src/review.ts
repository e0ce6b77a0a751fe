// AdmissionReview admission.k8s.io/v1: decode and check a request body, encode
// the answer. Every refusal is an AdmissionError with an HTTP status and a
// one-line reason naming the field.
import { AdmissionError } from './errors.js';
import { isObject } from './k8s.js';
import type { Operation } from './patch.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  namespace?: string;
  operation: string;
  object?: Record<string, unknown>;
  dryRun: boolean;
}

export type AdmissionAnswer =
  | { allowed: true; patch?: readonly Operation[]; warnings?: readonly string[] }
  | { allowed: false; code: number; message: string; warnings?: readonly string[] };

export function decodeReview(body: Buffer): AdmissionRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    throw new AdmissionError(400, 'bad_json', `request body is not JSON: ${why}`, { cause: err });
  }
  if (!isObject(doc)) throw new AdmissionError(400, 'not_admission_review', 'request body is not an AdmissionReview: expected a JSON object');
  if (doc.kind !== 'AdmissionReview') {
    throw new AdmissionError(400, 'not_admission_review', `request body is not an AdmissionReview: kind: expected AdmissionReview, got ${show(doc.kind)}`);
  }
  if (doc.apiVersion !== ADMISSION_API_VERSION) {
    throw new AdmissionError(400, 'not_admission_review', `apiVersion: expected ${ADMISSION_API_VERSION}, got ${show(doc.apiVersion)}`);
  }
  const req = doc.request;
  if (!isObject(req)) throw missing('request', 'an object');
  if (typeof req.uid !== 'string' || req.uid === '') throw missing('request.uid', 'a non-empty string');
  const kind = req.kind;
  if (!isObject(kind) || typeof kind.kind !== 'string' || typeof kind.version !== 'string') throw missing('request.kind', '{group, version, kind}');
  if (typeof req.operation !== 'string' || req.operation === '') throw missing('request.operation', 'a string');
  if (req.object !== undefined && req.object !== null && !isObject(req.object)) throw missing('request.object', 'an object');
  if (req.operation === 'CREATE' && !isObject(req.object)) throw missing('request.object', 'an object (operation CREATE)');
  if (req.namespace !== undefined && typeof req.namespace !== 'string') throw missing('request.namespace', 'a string');
  return {
    uid: req.uid,
    kind: { group: typeof kind.group === 'string' ? kind.group : '', version: kind.version, kind: kind.kind },
    ...(isObject(req.resource) ? { resource: req.resource as AdmissionRequest['resource'] } : {}),
    ...(typeof req.subResource === 'string' && req.subResource !== '' ? { subResource: req.subResource } : {}),
    ...(typeof req.namespace === 'string' && req.namespace !== '' ? { namespace: req.namespace } : {}),
    operation: req.operation,
    ...(isObject(req.object) ? { object: req.object } : {}),
    dryRun: req.dryRun === true,
  };
}

export function encodeResponse(uid: string, answer: AdmissionAnswer): string {
  const warnings = answer.warnings?.length ? { warnings: [...answer.warnings] } : {};
  if (answer.allowed && answer.patch?.length) {
    // The patch is the bulk of the answer: base64 needs no JSON escaping, so it is spliced in, not stringified again.
    const patch = Buffer.from(JSON.stringify(answer.patch)).toString('base64');
    const rest = JSON.stringify({ uid, allowed: true, patchType: 'JSONPatch', ...warnings }).slice(1, -1);
    return `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"AdmissionReview","response":{${rest},"patch":"${patch}"}}`;
  }
  const response = answer.allowed ? { uid, allowed: true, ...warnings } : { uid, allowed: false, status: { code: answer.code, message: answer.message }, ...warnings };
  return JSON.stringify({ apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response });
}

function missing(field: string, what: string): AdmissionError {
  return new AdmissionError(400, 'missing_field', `${field}: required (${what})`);
}

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
