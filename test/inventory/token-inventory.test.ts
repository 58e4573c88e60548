import { describe, expect, it } from 'vitest';
import { TokenInventory } from '../../src/inventory/token-inventory.js';
import { ev, fp, HOUR, T0 } from '../../detectors/case-helpers.js';

describe('TokenInventory', () => {
  it('tracks mint, uses, services, networks, scopes, lifetime and revocation', () => {
    const inv = new TokenInventory({ maxTokens: 10, maxSetSize: 4 });
    inv.observe(ev({ time: T0, token: 't1', action: 'mint', issuer: 'client-a', scopes_granted: ['read'], expires_at: T0 + HOUR }));
    inv.observe(ev({ time: T0 + 10, token: 't1', action: 'use', service: 'orders', network: { ip: '10.0.0.1' } }));
    inv.observe(ev({ time: T0 + 20, token: 't1', action: 'use', service: 'payments', network: { ip: '10.0.0.2' } }));
    inv.observe(ev({ time: T0 + 30, token: 't1', action: 'revoke' }));
    const r = inv.get(fp('t1'))!;
    expect(r).toMatchObject({ issuer: 'client-a', minted_at: T0, expires_at: T0 + HOUR, lifetime_ms: HOUR, first_use: T0 + 10, last_use: T0 + 20, use_count: 2, revoked_at: T0 + 30, scopes: ['read'] });
    expect(r.services).toEqual(['orders', 'payments']);
    expect(r.networks).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(inv.drainDirty()).toHaveLength(1);
    expect(inv.drainDirty()).toHaveLength(0);
  });

  it('is bounded: the least recently seen token is evicted', () => {
    const inv = new TokenInventory({ maxTokens: 2, maxSetSize: 4 });
    inv.observe(ev({ time: T0, token: 'a' }));
    inv.observe(ev({ time: T0 + 1, token: 'b' }));
    inv.observe(ev({ time: T0 + 2, token: 'a' }));
    inv.observe(ev({ time: T0 + 3, token: 'c' }));
    expect(inv.size).toBe(2);
    expect(inv.get(fp('b'))).toBeUndefined();
    expect(inv.get(fp('a'))).toBeDefined();
    expect(inv.evicted).toBe(1);
  });
});
