import { describe, expect, it } from 'vitest';
import { createFaultSwitch } from './faults';
import type { Scheduler, WebhookSink } from './ports';
import { applySeed } from './seed';
import type { SendPlan } from './send-decision';
import { createStatusProgression } from './status-progression';
import { createWorld, type OutboundMessage } from './world';

// The status progression as a pure state machine: a step-by-step scheduler stands in for the
// timers and a recording sink for the delivery engine (both are the domain's ports), so each
// status and its webhook can be checked without HTTP or waiting.

function setUp(options: { receipts?: boolean; online?: boolean } = {}) {
  const world = createWorld();
  applySeed(
    world,
    {
      apps: [{ id: '1', secret: 'app-secret-1' }],
      wabas: [{ id: '2', subscribedApps: ['1'], phoneNumbers: [{ id: '3', display: '15550001111' }] }],
      customers: [
        { waId: '16505551234', readReceipts: options.receipts ?? true, online: options.online ?? true },
      ],
    },
    0,
    { throughputMps: 80 },
  );
  let t = 1_000_000;
  const due: Array<{ at: number; fn: () => void }> = [];
  const scheduler: Scheduler = { later: (ms, fn) => due.push({ at: t + ms, fn }) };
  /** Runs scheduled work in time order until nothing is left (or `until`). */
  const run = (until = Number.POSITIVE_INFINITY) => {
    for (;;) {
      due.sort((a, b) => a.at - b.at);
      const next = due[0];
      if (!next || next.at > until) return;
      due.shift();
      t = next.at;
      next.fn();
    }
  };
  const sent: Array<{ field: string; value: Record<string, unknown> }> = [];
  const webhooks: WebhookSink = {
    toNumber: (_number, field, value) => sent.push({ field, value }),
    toWaba: (_waba, field, value) => sent.push({ field, value }),
  };
  const progression = createStatusProgression({
    world,
    clock: { now: () => t },
    scheduler,
    webhooks,
    faults: createFaultSwitch(),
    random: () => 0.25,
    timings: { sentMs: 10, deliveredMs: 20, readMs: 30, deterministic: true },
  });
  const number = world.numbers.get('3');
  if (!number) throw new Error('seed has no number 3');
  const message: OutboundMessage = {
    wamid: 'wamid.1',
    phoneNumberId: '3',
    to: '16505551234',
    type: 'text',
    payload: { biz_opaque_callback_data: 'order-7' },
    at: t,
    version: 24,
    statuses: [],
    awaitingDevice: false,
    ttlExpiresAt: t + 60_000,
  };
  const plan: SendPlan = {
    pricing: { billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'service' },
    failure: undefined,
    onlySent: false,
    voice: false,
    entryPoint: undefined,
  };
  const statuses = () =>
    sent.flatMap((s) => (s.value.statuses as Array<Record<string, unknown>> | undefined) ?? []);
  return { world, progression, number, message, plan, run, statuses, now: () => t };
}

describe('status progression (§3.5, §12)', () => {
  it('sends sent, delivered and read at their delays, pricing on sent and delivered only', () => {
    const s = setUp();
    const start = s.now();
    s.progression.afterAccepted(s.message, s.number, s.plan);
    s.run();
    expect(s.statuses().map((x) => [x.status, 'pricing' in x])).toEqual([
      ['sent', true],
      ['delivered', true],
      ['read', false],
    ]);
    expect(s.message.statuses.map((x) => [x.status, x.at - start])).toEqual([
      ['sent', 10],
      ['delivered', 30],
      ['read', 60],
    ]);
    // §3.5: biz_opaque_callback_data is echoed on every status; no conversation from v24.
    for (const status of s.statuses()) {
      expect(status.biz_opaque_callback_data).toBe('order-7');
      expect(status).not.toHaveProperty('conversation');
    }
  });

  it('sends only `failed` for a planned async failure', () => {
    const s = setUp();
    const failure = {
      code: 131047,
      title: 'Re-engagement message',
      message: 'x',
      error_data: { details: 'x' },
    };
    s.progression.afterAccepted(s.message, s.number, { ...s.plan, failure });
    s.run();
    expect(s.statuses().map((x) => [x.status, x.errors])).toEqual([['failed', [failure]]]);
  });

  it('holds delivery while the device is offline, then delivers when it comes online within the TTL', () => {
    const s = setUp({ online: false, receipts: false });
    s.progression.afterAccepted(s.message, s.number, s.plan);
    s.run();
    expect(s.statuses().map((x) => x.status)).toEqual(['sent']);
    expect(s.message.awaitingDevice).toBe(true);
    s.progression.deviceOnline('16505551234');
    s.run();
    expect(s.statuses().map((x) => x.status)).toEqual(['sent', 'delivered']);
    expect(s.message.awaitingDevice).toBe(false);
  });

  it('drops a message silently when the device comes online after its TTL (§2.11)', () => {
    const s = setUp({ online: false });
    s.progression.afterAccepted(s.message, s.number, s.plan);
    s.run();
    s.message.ttlExpiresAt = s.now() - 1;
    s.progression.deviceOnline('16505551234');
    s.run();
    expect(s.statuses().map((x) => x.status)).toEqual(['sent']);
    expect(s.message.droppedAt).toBe(s.now());
  });

  it('merges timings without erasing the ones not given', () => {
    const s = setUp();
    expect(s.progression.setTimings({ readMs: 5 })).toEqual({
      sentMs: 10,
      deliveredMs: 20,
      readMs: 5,
      deterministic: true,
    });
  });
});
