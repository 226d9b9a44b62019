// The EnrolmentTokenStore contract (cloud-relay/enrolment/enrolment-token-store.ts),
// run against every backend: relay.db (enrolment-token-store.sqlite.contract.test.ts)
// and PostgreSQL (enrolment-token-store.postgres.contract.test.ts). A backend hands
// the suite a store on the suite's clock, a way to open the same storage again, a
// look at what it stores, and a cleanup.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ENROLMENT_TOKEN_TTL_MS, ENROLMENT_TOKEN_PREFIX, tokenDigest, type EnrolmentTokenStore } from '../../cloud-relay/enrolment/index.js';

export interface EnrolmentTokenStoreFixture {
  store: EnrolmentTokenStore;
  /** A second store on the same storage (another process, or the relay beside the CLI), on the same clock. */
  another(): Promise<EnrolmentTokenStore>;
  /** Every stored row of enrolment_tokens as text (JSON), to show no token is kept in the clear. */
  storedText(): Promise<string>;
  /** Closes whatever is open and removes the storage. */
  cleanup(): Promise<void>;
}

const T0 = Date.parse('2026-03-01T08:00:00Z');

export function describeEnrolmentTokenStoreContract(label: string, open: (now: () => number) => Promise<EnrolmentTokenStoreFixture>): void {
  describe(`EnrolmentTokenStore contract: ${label}`, () => {
    let clock: number;
    let fixture: EnrolmentTokenStoreFixture;
    let store: EnrolmentTokenStore;

    beforeEach(async () => {
      clock = T0;
      fixture = await open(() => clock);
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('issues a prefixed token for the hospital, valid 24 h by default or the ttl given', async () => {
      const issued = await store.issue('h1');
      expect(issued.token.startsWith(ENROLMENT_TOKEN_PREFIX)).toBe(true);
      expect(issued.token.length).toBeGreaterThan(ENROLMENT_TOKEN_PREFIX.length + 30);
      expect(issued).toMatchObject({ hospital: 'h1', expiresAt: new Date(T0 + DEFAULT_ENROLMENT_TOKEN_TTL_MS).toISOString() });
      expect((await store.issue('h1', 60_000)).expiresAt).toBe(new Date(T0 + 60_000).toISOString());
      expect((await store.issue('h1')).token).not.toBe(issued.token);
    });

    it('redeems a token once for its hospital; the second use is refused as used', async () => {
      const { token } = await store.issue('h2');
      expect(await store.redeem(token)).toEqual({ ok: true, hospital: 'h2' });
      expect(await store.redeem(token)).toEqual({ ok: false, reason: 'used' });
    });

    it('refuses an unknown token, and one at or past its expiry', async () => {
      expect(await store.redeem(`${ENROLMENT_TOKEN_PREFIX}nope`)).toEqual({ ok: false, reason: 'unknown' });
      const { token } = await store.issue('h1', 1_000);
      const late = await store.issue('h1', 1_000);
      clock = T0 + 999;
      expect(await store.redeem(token)).toEqual({ ok: true, hospital: 'h1' });
      clock = T0 + 1_000;
      expect(await store.redeem(late.token)).toEqual({ ok: false, reason: 'expired' });
      // Used stays used, whatever the clock says later.
      clock = T0 + 10_000;
      expect(await store.redeem(token)).toEqual({ ok: false, reason: 'used' });
    });

    it('release gives a redeemed token back (a CSR that could not be signed)', async () => {
      const { token } = await store.issue('h1');
      expect((await store.redeem(token)).ok).toBe(true);
      await store.release(token);
      expect(await store.redeem(token)).toEqual({ ok: true, hospital: 'h1' });
    });

    it('of many redemptions at once, at this store and another on the same storage, exactly one wins', async () => {
      const other = await fixture.another();
      try {
        const { token } = await store.issue('h1');
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : other).redeem(token)));
        expect(results.filter((r) => r.ok)).toEqual([{ ok: true, hospital: 'h1' }]);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'used')).toBe(true);
      } finally {
        await other.close();
      }
    });

    it('a token issued by one store is redeemed at another on the same storage', async () => {
      const other = await fixture.another();
      try {
        const { token } = await store.issue('h3');
        expect(await other.redeem(token)).toEqual({ ok: true, hospital: 'h3' });
      } finally {
        await other.close();
      }
    });

    it('stores only the SHA-256 of a token', async () => {
      const { token } = await store.issue('h1');
      const text = await fixture.storedText();
      expect(text).toContain(tokenDigest(token).toString('hex'));
      expect(text).not.toContain(token.slice(ENROLMENT_TOKEN_PREFIX.length));
      expect(text).not.toContain(Buffer.from(token).toString('hex'));
    });
  });
}
