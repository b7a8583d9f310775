import { describe, expect, it } from 'vitest';
import { sendAccountUpdate, setPhoneNumberQuality } from './number-health';
import type { WebhookSink } from './ports';
import { applySeed } from './seed';
import { createWorld } from './world';

// The choices the number-health controls make on their own (which event, which detail object),
// checked without HTTP; the HTTP test (test/number-health.test.ts) proves the webhooks arrive.

function setUp() {
  const world = createWorld();
  applySeed(
    world,
    {
      apps: [{ id: '1', secret: 'app-secret-1' }],
      wabas: [
        {
          id: '2',
          subscribedApps: ['1'],
          phoneNumbers: [
            { id: '3', display: '15550001111', messagingLimit: 'TIER_2K' },
            { id: '4', display: '15550002222', messagingLimit: 'TIER_250' },
          ],
        },
      ],
    },
    0,
    { throughputMps: 80 },
  );
  const sent: Array<{ field: string; value: Record<string, unknown> }> = [];
  const webhooks: WebhookSink = {
    toNumber: (_n, field, value) => sent.push({ field, value }),
    toWaba: (_w, field, value) => sent.push({ field, value }),
  };
  return {
    world,
    sent,
    deps: { world, clock: { now: () => Date.UTC(2026, 0, 5) }, webhooks, standardMps: 80 },
  };
}

describe('setPhoneNumberQuality (§3.7, §5.1, §5.3)', () => {
  it('names a throughput upgrade first even when the limit moved too, and still carries old_limit', () => {
    const { deps, sent } = setUp();
    const answer = setPhoneNumberQuality(deps, '3', {
      throughputLevel: 'HIGH',
      messagingLimit: 'TIER_UNLIMITED',
    });
    expect(answer.webhook).toEqual({
      display_phone_number: '15550001111',
      event: 'THROUGHPUT_UPGRADE',
      current_limit: 'TIER_UNLIMITED',
      old_limit: 'TIER_2K',
      max_daily_conversations_per_business: 'TIER_UNLIMITED',
    });
    expect(sent).toEqual([{ field: 'phone_number_quality_update', value: answer.webhook }]);
  });

  it('moves the portfolio’s limit on every number of it, so the portfolio limit really drops (§5.3)', () => {
    const { world, deps } = setUp();
    setPhoneNumberQuality(deps, '4', { messagingLimit: 'TIER_50' });
    expect([...world.numbers.values()].map((n) => n.messagingLimit)).toEqual(['TIER_50', 'TIER_50']);
  });

  it('goes back to the configured standard throughput from HIGH', () => {
    const { world, deps } = setUp();
    setPhoneNumberQuality(deps, '3', { throughputLevel: 'HIGH' });
    const answer = setPhoneNumberQuality(deps, '3', { throughputLevel: 'STANDARD' });
    expect(answer).toMatchObject({ throughputLevel: 'STANDARD', throughputMps: 80 });
    expect(world.numbers.get('3')?.limiter.perSecond).toBe(80);
    expect(answer.webhook).toBeUndefined();
  });
});

describe('sendAccountUpdate (§3.7)', () => {
  it('defaults ban_info to DISABLE on the current day, written as Meta writes dates', () => {
    const { deps } = setUp();
    expect(sendAccountUpdate(deps, '2', { event: 'DISABLED_UPDATE' }).webhook).toEqual({
      event: 'DISABLED_UPDATE',
      ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: 'January 5, 2026' },
    });
  });

  it('sends an event without a detail object as the bare event', () => {
    const { deps, sent } = setUp();
    sendAccountUpdate(deps, '2', { event: 'ACCOUNT_DELETED' });
    expect(sent).toEqual([{ field: 'account_update', value: { event: 'ACCOUNT_DELETED' } }]);
  });

  it('refuses a country on an event that does not carry one', () => {
    const { deps, sent } = setUp();
    expect(() => sendAccountUpdate(deps, '2', { event: 'ACCOUNT_DELETED', country: 'IN' })).toThrow(
      /BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE/,
    );
    expect(sent).toEqual([]);
  });
});
