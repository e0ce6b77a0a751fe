import { beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { validateCandidate, type Credentials } from './credentials.js';
import { needsRecycle, rotationWarnings } from './rotation-checks.js';
import { spkiPinOf } from './pin.js';
import { ca, identity, type TestCa } from '../../../test/support/pki.js';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/default/sa/web`;
let rootA: TestCa;
let rootB: TestCa;
let gen = 0;

async function creds(root: TestCa, bundle: string): Promise<Credentials> {
  const { files } = await identity(root, ID, {}, bundle);
  return validateCandidate(
    { cert: Buffer.from(files.cert), key: Buffer.from(files.key), bundle: Buffer.from(files.ca) },
    { trustDomain: TD, now: Date.now(), skewMs: 0, generation: ++gen, bundleName: 'ca.crt' },
  );
}

beforeAll(async () => {
  rootA = await ca({ name: 'A', trustDomain: TD });
  rootB = await ca({ name: 'B', trustDomain: TD });
});

describe('rotationWarnings', () => {
  it('says nothing for an ordinary renewal', async () => {
    const prev = await creds(rootA, rootA.certPem);
    const next = await creds(rootA, rootA.certPem);
    expect(rotationWarnings(next, prev, [spkiPinOf(new X509Certificate(rootA.der))])).toEqual([]);
  });

  it('warns when pins configured on our listeners stop matching our chain', async () => {
    const prev = await creds(rootA, rootA.certPem + rootB.certPem);
    const next = await creds(rootB, rootB.certPem);
    const w = rotationWarnings(next, prev, [spkiPinOf(new X509Certificate(rootA.der))]);
    expect(w.map((x) => x.kind)).toEqual(['pins_no_longer_match']);
  });

  it('a leaf pin breaks at every renewal with a new key: warned', async () => {
    const prev = await creds(rootA, rootA.certPem);
    const next = await creds(rootA, rootA.certPem);
    expect(rotationWarnings(next, prev, [prev.leaf.spkiPin]).map((x) => x.kind)).toEqual(['pins_no_longer_match']);
  });
});

describe('needsRecycle', () => {
  it('is true for a new certificate, and for an anchor leaving the bundle; false for an anchor added', async () => {
    const a = await creds(rootA, rootA.certPem);
    const b = await creds(rootA, rootA.certPem);
    expect(needsRecycle(b, a)).toBe(true);
    const widened = { ...a, generation: a.generation + 1, bundlePem: a.bundlePem + rootB.certPem, anchorInfo: [...a.anchorInfo, { subject: 'B', spkiPin: spkiPinOf(new X509Certificate(rootB.der)), notAfter: '' }] } as Credentials;
    expect(needsRecycle(widened, a)).toBe(false);
    expect(needsRecycle(a, widened)).toBe(true);
  });
});
