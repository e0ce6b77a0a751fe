import { describe, expect, it } from 'vitest';
import { binary, chooseBackend, type BackendUse } from './iptables.js';

const use = (backend: 'nft' | 'legacy', rules: number, ours = false, available = true): BackendUse => ({ backend, available, rules, ours });

describe('chooseBackend', () => {
  it.each([
    { name: 'a fresh namespace: nft', uses: [use('nft', 0), use('legacy', 0)], want: 'nft' },
    { name: 'a re-run: where tlsmesh rules are', uses: [use('nft', 40), use('legacy', 12, true)], want: 'legacy' },
    { name: 'the backend something else already uses', uses: [use('nft', 0), use('legacy', 3)], want: 'legacy' },
    { name: 'the busier of the two', uses: [use('nft', 5), use('legacy', 3)], want: 'nft' },
    { name: 'legacy when nft does not work', uses: [use('nft', 0, false, false), use('legacy', 0)], want: 'legacy' },
    { name: 'none when neither works', uses: [use('nft', 0, false, false), use('legacy', 0, false, false)], want: undefined },
  ])('$name', ({ uses, want }) => {
    expect(chooseBackend(uses)).toBe(want);
  });
});

describe('binary', () => {
  it('names the tool per backend and family', () => {
    expect(binary('nft', 4, 'restore')).toBe('iptables-nft-restore');
    expect(binary('legacy', 6, 'save')).toBe('ip6tables-legacy-save');
  });
});
