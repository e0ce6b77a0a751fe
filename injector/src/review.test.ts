import { describe, expect, it } from 'vitest';
import { AdmissionError } from './errors.js';
import { decodeReview, encodeResponse } from './review.js';
import { admissionReview, pod } from './testing/builders.js';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const review = admissionReview(pod());
const withRequest = (patch: Record<string, unknown>) => ({ ...review, request: { ...(review.request as object), ...patch } });

describe('decodeReview', () => {
  it('decodes a pod creation', () => {
    expect(decodeReview(body(review))).toMatchObject({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', operation: 'CREATE', namespace: 'default', dryRun: false, kind: { kind: 'Pod' } });
  });

  it.each([
    ['not JSON', 'hello', 'bad_json', /^request body is not JSON: /],
    ['a JSON array', [], 'not_admission_review', 'request body is not an AdmissionReview: expected a JSON object'],
    ['another kind', { kind: 'Pod' }, 'not_admission_review', 'request body is not an AdmissionReview: kind: expected AdmissionReview, got "Pod"'],
    ['v1beta1', { ...review, apiVersion: 'admission.k8s.io/v1beta1' }, 'not_admission_review', 'apiVersion: expected admission.k8s.io/v1, got "admission.k8s.io/v1beta1"'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'missing_field', 'request: required (an object)'],
    ['no uid', withRequest({ uid: '' }), 'missing_field', 'request.uid: required (a non-empty string)'],
    ['no kind', withRequest({ kind: undefined }), 'missing_field', 'request.kind: required ({group, version, kind})'],
    ['no operation', withRequest({ operation: 7 }), 'missing_field', 'request.operation: required (a string)'],
    ['a CREATE without object', withRequest({ object: null }), 'missing_field', 'request.object: required (an object (operation CREATE))'],
    ['an object that is not one', withRequest({ object: 'pod' }), 'missing_field', 'request.object: required (an object)'],
  ])('refuses %s with 400 and a one-line reason', (_n, input, reason, message) => {
    let err: unknown;
    try {
      decodeReview(body(input));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdmissionError);
    const e = err as AdmissionError;
    expect([e.status, e.reason, e.code]).toEqual([400, reason, 'TLSMESH_ERR_ADMISSION']);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });
});

describe('encodeResponse', () => {
  it('answers allowed with a base64 JSON Patch', () => {
    const out = JSON.parse(encodeResponse('u1', { allowed: true, patch: [{ op: 'add', path: '/a', value: 1 }], warnings: ['w'] }));
    expect(out).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u1', allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[{"op":"add","path":"/a","value":1}]').toString('base64'), warnings: ['w'] },
    });
  });

  it('leaves patchType out when there is nothing to patch', () => {
    expect(JSON.parse(encodeResponse('u2', { allowed: true, patch: [] })).response).toEqual({ uid: 'u2', allowed: true });
  });

  it('denies with a status', () => {
    expect(JSON.parse(encodeResponse('u3', { allowed: false, code: 400, message: 'no' })).response).toEqual({ uid: 'u3', allowed: false, status: { code: 400, message: 'no' } });
  });
});
