import { describe, expect, it, vi } from 'vitest';
import { takeReviewSecret } from './router.svelte';

describe('takeReviewSecret', () => {
  it('takes the secret out of the address, so history keeps no copy', () => {
    const replaceState = vi.fn();
    expect(takeReviewSecret({ hash: '#/review/rdv_ABC' }, { replaceState })).toBe('rdv_ABC');
    expect(replaceState).toHaveBeenCalledWith(null, '', '#/releases');
  });

  it('leaves other addresses alone', () => {
    const replaceState = vi.fn();
    expect(takeReviewSecret({ hash: '#/releases/4' }, { replaceState })).toBeNull();
    expect(takeReviewSecret({ hash: '#/review/' }, { replaceState })).toBeNull();
    expect(takeReviewSecret({ hash: '#/review/a/b' }, { replaceState })).toBeNull();
    expect(replaceState).not.toHaveBeenCalled();
  });
});
