import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { createPatch, parsePointer, pointerToken } from './patch.js';

const apply = (a: unknown, ops: unknown[]) => jsonpatch.applyPatch(structuredClone(a), ops as jsonpatch.Operation[], true, false).newDocument;

describe('createPatch', () => {
  const cases: [string, unknown, unknown][] = [
    ['equal objects', { a: 1, b: [1, 2] }, { a: 1, b: [1, 2] }],
    ['added key', { a: 1 }, { a: 1, b: { c: [1] } }],
    ['removed key', { a: 1, b: 2 }, { a: 1 }],
    ['changed scalar type', { a: 1 }, { a: '1' }],
    ['object to array', { a: { x: 1 } }, { a: [1] }],
    ['null values', { a: null }, { a: { b: null } }],
    ['prepend to array', { l: ['c'] }, { l: ['a', 'b', 'c'] }],
    ['append to array', { l: ['a'] }, { l: ['a', 'b', 'c'] }],
    ['insert in the middle', { l: [1, 4] }, { l: [1, 2, 3, 4] }],
    ['remove from arrays', { l: [1, 2, 3, 4, 5] }, { l: [2, 4] }],
    ['element changed in place', { l: [{ name: 'a', p: 1 }, { name: 'b' }] }, { l: [{ name: 'a', p: 2 }, { name: 'b' }] }],
    ['mixed array edits', { l: [{ n: 1 }, { n: 2 }, { n: 3 }] }, { l: [{ n: 0 }, { n: 1 }, { n: 2, x: true }, 'new'] }],
    ['empty to filled', { l: [] }, { l: [1, 2] }],
    ['filled to empty', { l: [1, 2] }, { l: [] }],
    ['duplicates', { l: [1, 1, 2, 1] }, { l: [1, 2, 1, 1, 1] }],
    ['keys with / and ~', { m: { 'a/b': 1, 'c~d': 2 } }, { m: { 'a/b': 3, 'e~/f': 4 } }],
    ['root replaced', [1], { a: 1 }],
  ];

  it.each(cases)('%s: applying the patch gives the target', (_name, a, b) => {
    expect(apply(a, createPatch(a, b))).toEqual(b);
  });

  it('is empty for equal inputs', () => {
    expect(createPatch({ a: [{ b: 1 }] }, { a: [{ b: 1 }] })).toEqual([]);
  });

  it('inserts in front of existing init containers with two adds, not a rewrite', () => {
    const a = { spec: { initContainers: [{ name: 'user' }] } };
    const b = { spec: { initContainers: [{ name: 'tlsmesh-init' }, { name: 'tlsmesh-proxy' }, { name: 'user' }] } };
    expect(createPatch(a, b)).toEqual([
      { op: 'add', path: '/spec/initContainers/0', value: { name: 'tlsmesh-init' } },
      { op: 'add', path: '/spec/initContainers/1', value: { name: 'tlsmesh-proxy' } },
    ]);
  });

  it('escapes annotation keys (RFC 6901)', () => {
    expect(createPatch({ a: {} }, { a: { 'tlsmesh.io/status': 'x' } })).toEqual([{ op: 'add', path: '/a/tlsmesh.io~1status', value: 'x' }]);
    expect(pointerToken('a~/b')).toBe('a~0~1b');
    expect(parsePointer('/a~0~1b/0')).toEqual(['a~/b', '0']);
    expect(parsePointer('')).toEqual([]);
  });
});
