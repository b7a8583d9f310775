import type { StatusObject } from '@wapi/contracts';
import { useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import type { Seed } from '../src/domain/seed';
import {
  baseSeed,
  CUSTOMER,
  closeAfterEachTest,
  graphError,
  type Harness,
  manualClock,
  NUMBER_ID,
  startReceiver,
  startSandbox,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxpolicy');
const HOUR = 3_600_000;
let sbx: Harness | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
closeAfterEachTest();

async function setUp(options: { env?: Record<string, string>; seed?: (s: Seed) => Seed } = {}) {
  const clock = manualClock();
  const r = await startReceiver();
  receiver = r;
  const seed = (options.seed ?? ((s) => s))(baseSeed(r.url));
  const h = await startSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed,
    now: clock.now,
    env: { SANDBOX_THROUGHPUT_MPS: '1000', SANDBOX_PAIR_BURST: '1000', ...options.env },
  });
  sbx = h;
  return { sbx: h, receiver: r, clock };
}

const inbound = (h: Harness, message: Record<string, unknown>, from = CUSTOMER) =>
  h.control('POST', '/inbound', { phoneNumberId: NUMBER_ID, from, messages: [message] });

const AD = { source_url: 'https://fb.me/ad', source_id: '120', source_type: 'ad', ctwa_clid: 'clid-1' };

async function send(h: Harness, body: Record<string, unknown>, version = 'v24.0', from = NUMBER_ID) {
  const r = await h.graphAt(version, 'POST', `/${from}/messages`, {
    messaging_product: 'whatsapp',
    to: CUSTOMER,
    ...body,
  });
  expect(r.status).toBe(200);
  return (r.json.messages as Array<{ id: string }>)[0]?.id ?? '';
}
const text = { type: 'text', text: { body: 'hello' } };
const marketing = (to = CUSTOMER) => ({
  to,
  type: 'template',
  template: { name: 'spring_sale', language: { code: 'en_US' } },
});

type Outbound = { wamid: string; statuses: Array<{ status: string; errorCode?: number }> };
async function outbound(h: Harness, wamid: string): Promise<Outbound | undefined> {
  const { json } = await h.control('GET', '/messages');
  return (json.messages as Outbound[]).find((m) => m.wamid === wamid);
}
/** Waits until the message reached `status` and returns its status names (and error codes). */
async function settled(h: Harness, wamid: string, status: string) {
  const m = await waitFor(
    async () => {
      const found = await outbound(h, wamid);
      return found?.statuses.some((s) => s.status === status) ? found : undefined;
    },
    { what: `${wamid} ${status}` },
  );
  return m.statuses;
}
const statusesOf = (wamid: string) =>
  (receiver?.statuses() ?? []).filter((s) => s.id === wamid) as StatusObject[];

describe('free entry point (Click-to-WhatsApp)', () => {
  it('prices the reply within 24 h of an ad click as free_entry_point / referral_conversion with a v24 conversation (ref §6, §3.5, §12)', async () => {
    const { sbx, clock } = await setUp();
    expect((await inbound(sbx, { kind: 'text', text: 'from the ad', referral: AD })).status).toBe(200);
    clock.advance(HOUR);
    const replyAt = clock.now();
    const wamid = await send(sbx, text);
    await waitFor(() => statusesOf(wamid).length === 3, { what: 'reply statuses' });
    const [sent, delivered, read] = statusesOf(wamid);
    const fepPricing = {
      billable: false,
      pricing_model: 'PMP',
      type: 'free_entry_point',
      category: 'referral_conversion',
    };
    expect(sent?.pricing).toEqual(fepPricing);
    expect(sent?.conversation?.origin.type).toBe('referral_conversion');
    // §6: the window runs 72 h from the business reply.
    expect(sent?.conversation?.expiration_timestamp).toBe(String(Math.floor((replyAt + 72 * HOUR) / 1_000)));
    expect(delivered?.conversation?.id).toBe(sent?.conversation?.id);
    expect(delivered?.conversation?.expiration_timestamp).toBeUndefined();
    expect(read?.pricing).toBeUndefined();

    // 48 h later the CSW is closed but the FEP window still runs: a marketing template is free,
    // in the same conversation (pre-v24 ids are per message except FEP: per window, §3.5).
    clock.advance(48 * HOUR);
    const template = await send(sbx, marketing(), 'v23.0');
    await waitFor(() => statusesOf(template).length === 3, { what: 'template statuses' });
    expect(statusesOf(template)[0]?.pricing).toEqual(fepPricing);
    expect(statusesOf(template)[0]?.conversation?.id).toBe(sent?.conversation?.id);
    // §6: the CSW still governs what may be sent — free-form outside it fails 131047.
    const late = await send(sbx, text);
    expect((await settled(sbx, late, 'failed'))[0]?.errorCode).toBe(131047);
  });

  it('closes the window after 72 h: templates are regular again and v24 omits conversation (ref §6, §3.5)', async () => {
    const { sbx, clock } = await setUp();
    await inbound(sbx, { kind: 'image', referral: AD });
    await send(sbx, text);
    clock.advance(72 * HOUR);
    const wamid = await send(sbx, marketing());
    await waitFor(() => statusesOf(wamid).length === 3, { what: 'statuses' });
    expect(statusesOf(wamid)[0]?.pricing).toEqual({
      billable: true,
      pricing_model: 'PMP',
      type: 'regular',
      category: 'marketing',
    });
    expect(statusesOf(wamid)[0]?.conversation).toBeUndefined();
  });

  it('opens no window when the business first replies more than 24 h after the ad click, or without a referral (ref §6)', async () => {
    const { sbx, clock } = await setUp();
    await inbound(sbx, { kind: 'text', text: 'ad', referral: AD });
    clock.advance(25 * HOUR);
    const late = await send(sbx, marketing());
    await inbound(sbx, { kind: 'text', text: 'plain' }, '16505550000');
    const plain = await send(sbx, { ...text, to: '16505550000' });
    await waitFor(() => statusesOf(late).length === 3 && statusesOf(plain).length === 3, {
      what: 'statuses',
    });
    expect(statusesOf(late)[0]?.pricing?.type).toBe('regular');
    expect(statusesOf(late)[0]?.conversation).toBeUndefined();
    expect(statusesOf(plain)[0]?.pricing?.type).toBe('free_customer_service');
    expect(statusesOf(plain)[0]?.conversation).toBeUndefined();
  });

  it('rejects a referral that is not an object and an inbound without the admin token (ref §3.4)', async () => {
    const { sbx } = await setUp();
    const bad = await inbound(sbx, { kind: 'text', text: 'x', referral: 'ad' });
    expect(bad.status).toBe(400);
    const anonymous = await sbx.control(
      'POST',
      '/inbound',
      { phoneNumberId: NUMBER_ID, from: CUSTOMER, messages: [{ kind: 'text', referral: AD }] },
      null,
    );
    expect(anonymous.status).toBe(401);
  });
});

/** Two registered numbers of one WABA (one portfolio), both at TIER_50. */
const tier50 = (s: Seed): Seed => ({
  ...s,
  wabas: (s.wabas ?? []).map((w) =>
    w.id === WABA_ID
      ? {
          ...w,
          phoneNumbers: [
            ...(w.phoneNumbers ?? []).map((n) => ({ ...n, messagingLimit: 'TIER_50' as const })),
            { id: '300000000000009', display: '15550783999', messagingLimit: 'TIER_50' as const },
          ],
        }
      : w,
  ),
});
const user = (i: number) => `1650556${String(i).padStart(4, '0')}`;

describe('portfolio messaging limit', () => {
  it('counts unique users reached outside the CSW per portfolio in a rolling 24 h; the next new user gets an async failed 131048 by default (ref §5.3, §12)', async () => {
    const { sbx, clock } = await setUp({ seed: tier50 });
    // 25 users from each number: the limit is shared by the portfolio's numbers (§5.3).
    const accepted = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        send(sbx, marketing(user(i)), 'v24.0', i % 2 ? NUMBER_ID : '300000000000009'),
      ),
    );
    // A user already reached costs nothing; a reply inside a CSW is not business-initiated.
    const again = await send(sbx, marketing(user(0)));
    await inbound(sbx, { kind: 'text', text: 'hi' }, user(900));
    const inWindow = await send(sbx, marketing(user(900)));
    const over = await send(sbx, marketing(user(50)));
    const failed = await settled(sbx, over, 'failed');
    expect(failed).toEqual([expect.objectContaining({ status: 'failed', errorCode: 131048 })]);
    const ok = [...accepted, again, inWindow];
    await settled(sbx, inWindow, 'read');
    await waitFor(async () => (await sbx.control('GET', '/webhooks')).json.idle === true, { what: 'idle' });
    const { json } = await sbx.control('GET', '/messages');
    const reached = (json.messages as Outbound[]).filter((x) => ok.includes(x.wamid));
    expect(reached).toHaveLength(52);
    for (const m of reached) expect(m.statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);

    // Rolling 24 h: a day later the first users no longer count.
    clock.advance(24 * HOUR);
    const nextDay = await send(sbx, marketing(user(51)));
    expect((await settled(sbx, nextDay, 'read')).map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('can refuse synchronously with a configured code, or not enforce the limit (ref §5.3, §13.3)', async () => {
    const { sbx: sync } = await setUp({
      seed: tier50,
      env: { SANDBOX_MESSAGING_LIMIT_MODE: 'sync', SANDBOX_MESSAGING_LIMIT_CODE: '131049' },
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => send(sync, marketing(user(i)))));
    const r = await sync.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      ...marketing(user(50)),
    });
    expect(r.status).toBe(400);
    expect(graphError(r.json).code).toBe(131049);
    await sync.close();

    sbx = await startSandbox({
      redisUrl: ctx.infra.redisUrl,
      seed: tier50(baseSeed()),
      env: {
        SANDBOX_MESSAGING_LIMIT_MODE: 'off',
        SANDBOX_THROUGHPUT_MPS: '1000',
        SANDBOX_PAIR_BURST: '1000',
      },
    });
    const off = sbx;
    await Promise.all(Array.from({ length: 51 }, (_, i) => send(off, marketing(user(i)))));
    const last = await send(off, marketing(user(51)));
    expect((await settled(off, last, 'read')).map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('rejects an unknown messaging tier in a seeded number (ref §5.3)', async () => {
    const { sbx } = await setUp();
    const r = await sbx.control('POST', '/phone-numbers', {
      wabaId: WABA_ID,
      display: '15550783777',
      messagingLimit: 'TIER_3',
    });
    expect(r.status).toBe(400);
  });
});

describe('customer knobs: per-user marketing cap, US marketing pause, experiment, blocked', () => {
  it('caps marketing templates per user over a rolling 24 h outside a CSW with async 131049 (ref §6, §4, §12)', async () => {
    const { sbx, clock } = await setUp();
    expect((await sbx.control('PUT', `/customers/${CUSTOMER}`, { marketingCap: 2 })).status).toBe(200);
    const first = await send(sbx, marketing());
    const second = await send(sbx, marketing());
    const third = await send(sbx, marketing());
    expect((await settled(sbx, third, 'failed'))[0]?.errorCode).toBe(131049);
    for (const wamid of [first, second]) await settled(sbx, wamid, 'read');
    // §6: marketing inside a CSW opened by the user's reply is not capped.
    await inbound(sbx, { kind: 'text', text: 'hi' });
    await settled(sbx, await send(sbx, marketing()), 'read');
    clock.advance(25 * HOUR);
    await settled(sbx, await send(sbx, marketing()), 'read');
  });

  it('fails marketing to US (+1) numbers with 131049 when the pause is on, per customer or by config (ref §6, §4)', async () => {
    const { sbx: local } = await setUp();
    await local.control('PUT', `/customers/${CUSTOMER}`, { usMarketingPause: true });
    expect((await settled(local, await send(local, marketing()), 'failed'))[0]?.errorCode).toBe(131049);
    // Utility templates are not marketing.
    const utility = await send(local, {
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_US' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Ana' },
              { type: 'text', text: '#1' },
            ],
          },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'abc' }] },
        ],
      },
    });
    await settled(local, utility, 'read');
    await local.close();

    sbx = await startSandbox({
      redisUrl: ctx.infra.redisUrl,
      env: { SANDBOX_US_MARKETING_PAUSE: 'true', SANDBOX_THROUGHPUT_MPS: '1000' },
    });
    const global = sbx;
    expect((await settled(global, await send(global, marketing()), 'failed'))[0]?.errorCode).toBe(131049);
    await settled(global, await send(global, marketing('+447700900999')), 'read');
    await global.control('PUT', `/customers/${CUSTOMER}`, { usMarketingPause: false });
    await settled(global, await send(global, marketing()), 'read');
  });

  it('fails marketing outside the CSW with async 130472 for a user in an experiment, not inside it (ref §4, §12)', async () => {
    const { sbx } = await setUp();
    await sbx.control('PUT', `/customers/${CUSTOMER}`, { marketingExperiment: true });
    const outside = await send(sbx, marketing());
    const failed = await settled(sbx, outside, 'failed');
    expect(failed).toEqual([{ status: 'failed', at: expect.any(Number), errorCode: 130472 }]);
    await inbound(sbx, { kind: 'text', text: 'hi' });
    await settled(sbx, await send(sbx, marketing()), 'read');
  });

  it('leaves messages to a user who blocked the business at sent, with no error (ref §12)', async () => {
    const { sbx } = await setUp();
    await inbound(sbx, { kind: 'text', text: 'hi' });
    await sbx.control('PUT', `/customers/${CUSTOMER}`, { blocked: true });
    const blocked = await send(sbx, text);
    await inbound(sbx, { kind: 'text', text: 'hi' }, '16505550000');
    const other = await send(sbx, { ...text, to: '16505550000' });
    // The other message went all the way; the blocked one never moves past `sent`.
    await settled(sbx, other, 'read');
    await settled(sbx, blocked, 'sent');
    await waitFor(async () => (await sbx.control('GET', '/webhooks')).json.idle === true, { what: 'idle' });
    expect((await outbound(sbx, blocked))?.statuses.map((s) => s.status)).toEqual(['sent']);
    expect(statusesOf(blocked).map((s) => s.status)).toEqual(['sent']);
  });

  it('validates the knobs and requires the admin token (ref §12)', async () => {
    const { sbx } = await setUp();
    for (const body of [
      { marketingCap: -1 },
      { marketingCap: 'many' },
      { blocked: 'yes' },
      { playsVoiceNotes: [] },
    ])
      expect([
        JSON.stringify(body),
        (await sbx.control('PUT', `/customers/${CUSTOMER}`, body)).status,
      ]).toEqual([JSON.stringify(body), 400]);
    // §6: the US pause concerns +1 numbers only.
    const uk = await sbx.control('PUT', '/customers/447700900999', { usMarketingPause: true });
    expect(uk.status).toBe(400);
    expect((await sbx.control('PUT', `/customers/${CUSTOMER}`, { blocked: true }, null)).status).toBe(401);
    expect(
      (await sbx.control('PUT', `/customers/${CUSTOMER}`, { blocked: true }, 'wrong-token-0123456789'))
        .status,
    ).toBe(401);
  });
});
