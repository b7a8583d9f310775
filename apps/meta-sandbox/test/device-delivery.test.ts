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
  startSandbox,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxdevice');
const MINUTE = 60_000;
const DAY = 86_400_000;
closeAfterEachTest();

/** The base world plus an authentication template and a utility template with a 1 h TTL (§2.11). */
function seed(): Seed {
  const s = baseSeed();
  return {
    ...s,
    templates: [
      ...(s.templates ?? []),
      {
        wabaId: WABA_ID,
        name: 'login_code',
        language: 'en_US',
        category: 'AUTHENTICATION',
        components: [{ type: 'BODY', text: 'Your code is {{1}}.' }],
      },
      {
        wabaId: WABA_ID,
        name: 'pickup_ready',
        language: 'en_US',
        category: 'UTILITY',
        messageSendTtlSeconds: 3_600,
        components: [{ type: 'BODY', text: 'Your order is ready.' }],
      },
    ],
  };
}

async function setUp() {
  const clock = manualClock();
  const h = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: seed(), now: clock.now });
  // Opens the 24 h window (§6) so free-form sends are allowed.
  await h.control('POST', '/inbound', {
    phoneNumberId: NUMBER_ID,
    from: CUSTOMER,
    messages: [{ kind: 'text' }],
  });
  return { sbx: h, clock };
}

async function send(h: Harness, body: Record<string, unknown>) {
  const r = await h.graph('POST', `/${NUMBER_ID}/messages`, {
    messaging_product: 'whatsapp',
    to: CUSTOMER,
    ...body,
  });
  expect(r.status).toBe(200);
  return (r.json.messages as Array<{ id: string }>)[0]?.id ?? '';
}

type Outbound = {
  wamid: string;
  awaitingDevice: boolean;
  droppedAt?: number;
  statuses: Array<{ status: string; errorCode?: number }>;
};
async function outbound(h: Harness, wamid: string) {
  const { json } = await h.control('GET', '/messages');
  return (json.messages as Outbound[]).find((m) => m.wamid === wamid);
}
const names = async (h: Harness, wamid: string) => (await outbound(h, wamid))?.statuses.map((s) => s.status);
const idle = (h: Harness) =>
  waitFor(async () => (await h.control('GET', '/webhooks')).json.idle === true, { what: 'engine idle' });

/** Sends with the device offline, waits for `sent`, moves the clock, brings the device back. */
async function offlineThenOnline(
  h: Harness,
  clock: ReturnType<typeof manualClock>,
  body: Record<string, unknown>,
  ms: number,
) {
  await h.control('PUT', `/customers/${CUSTOMER}`, { online: false });
  const wamid = await send(h, body);
  await waitFor(async () => (await outbound(h, wamid))?.awaitingDevice, { what: 'waiting for the device' });
  clock.advance(ms);
  expect((await h.control('PUT', `/customers/${CUSTOMER}`, { online: true })).status).toBe(200);
  return wamid;
}

const loginCode = {
  type: 'template',
  template: {
    name: 'login_code',
    language: { code: 'en_US' },
    components: [{ type: 'body', parameters: [{ type: 'text', text: '123456' }] }],
  },
};
const pickup = { type: 'template', template: { name: 'pickup_ready', language: { code: 'en_US' } } };

describe('TTL of undelivered messages', () => {
  it('drops a message silently when the device stays offline past 30 days — no failed, nothing delivered later (ref §2.11, §12)', async () => {
    const { sbx, clock } = await setUp();
    // Keep the window open across the month so only the TTL decides.
    const wamid = await offlineThenOnline(sbx, clock, { type: 'text', text: { body: 'x' } }, 30 * DAY);
    await idle(sbx);
    const message = await outbound(sbx, wamid);
    expect(message?.statuses.map((s) => s.status)).toEqual(['sent']);
    expect(message?.droppedAt).toBe(clock.now());
    expect(message?.awaitingDevice).toBe(false);
  });

  it('still delivers a message whose device comes back within 30 days (ref §2.11, §12)', async () => {
    const { sbx, clock } = await setUp();
    const wamid = await offlineThenOnline(sbx, clock, { type: 'text', text: { body: 'x' } }, 30 * DAY - 1);
    await waitFor(async () => (await names(sbx, wamid))?.includes('read'), { what: 'read' });
    expect(await names(sbx, wamid)).toEqual(['sent', 'delivered', 'read']);
  });

  it('gives authentication templates a 10 minute TTL (ref §2.11, §12)', async () => {
    const { sbx, clock } = await setUp();
    const dropped = await offlineThenOnline(sbx, clock, loginCode, 10 * MINUTE);
    const kept = await offlineThenOnline(sbx, clock, loginCode, 9 * MINUTE);
    await waitFor(async () => (await names(sbx, kept))?.includes('read'), { what: 'kept read' });
    await idle(sbx);
    expect(await names(sbx, dropped)).toEqual(['sent']);
    expect((await outbound(sbx, dropped))?.droppedAt).toBeDefined();
  });

  it("honours a template's message_send_ttl_seconds (ref §2.11, §7.2)", async () => {
    const { sbx, clock } = await setUp();
    const dropped = await offlineThenOnline(sbx, clock, pickup, 60 * MINUTE);
    await idle(sbx);
    expect(await names(sbx, dropped)).toEqual(['sent']);
    const kept = await offlineThenOnline(sbx, clock, pickup, 59 * MINUTE);
    await waitFor(async () => (await names(sbx, kept))?.includes('read'), { what: 'kept read' });
  });

  it('validates message_send_ttl_seconds against the category range on create (ref §2.11, §7.2)', async () => {
    const { sbx } = await setUp();
    const create = (category: string, ttl: unknown, name: string) =>
      sbx.graph('POST', `/${WABA_ID}/message_templates`, {
        name,
        language: 'en_US',
        category,
        message_send_ttl_seconds: ttl,
        components: [{ type: 'BODY', text: 'Your code is here.' }],
      });
    expect((await create('AUTHENTICATION', 300, 'auth_ok')).status).toBe(200);
    expect((await create('UTILITY', -1, 'utility_default')).status).toBe(200);
    for (const [category, ttl] of [
      ['AUTHENTICATION', 901],
      ['AUTHENTICATION', 29],
      ['UTILITY', 43_201],
      ['MARKETING', 3_600],
      ['MARKETING', -1],
      ['UTILITY', 'soon'],
    ] as const) {
      const r = await create(category, ttl, `bad_${category.toLowerCase()}_${String(ttl).replace('-', 'm')}`);
      expect(r.status).toBe(400);
      expect(graphError(r.json).code).toBe(100);
    }
    const view = await sbx.graph('GET', `/${(await create('UTILITY', 600, 'utility_ten')).json.id}`);
    expect(view.json.message_send_ttl_seconds).toBe(600);
  });
});

describe('multi-device and voice notes', () => {
  it('with the deliveredThenFailed fault, follows delivered by failed and no read (ref §3.5, §12)', async () => {
    const { sbx } = await setUp();
    expect((await sbx.control('PUT', '/faults', { deliveredThenFailed: 1 })).json).toMatchObject({
      deliveredThenFailed: 1,
    });
    const wamid = await send(sbx, { type: 'text', text: { body: 'x' } });
    await waitFor(async () => (await names(sbx, wamid))?.includes('failed'), { what: 'failed' });
    await idle(sbx);
    const message = await outbound(sbx, wamid);
    expect(message?.statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'failed']);
    expect(message?.statuses[2]?.errorCode).toBe(131000);

    await sbx.control('PUT', '/faults', { deliveredThenFailed: 0 });
    const normal = await send(sbx, { type: 'text', text: { body: 'y' } });
    await waitFor(async () => (await names(sbx, normal))?.includes('read'), { what: 'read' });
    expect(await names(sbx, normal)).toEqual(['sent', 'delivered', 'read']);
  });

  it('rejects a bad deliveredThenFailed rate and a call without the admin token (ref §12)', async () => {
    const { sbx } = await setUp();
    for (const rate of [1.5, -0.1, 'often'])
      expect((await sbx.control('PUT', '/faults', { deliveredThenFailed: rate })).status).toBe(400);
    expect((await sbx.control('PUT', '/faults', { deliveredThenFailed: 0.5 }, null)).status).toBe(401);
  });

  it('sends played after read for a voice note when the user plays voice notes, never for other audio (ref §3.5, §12)', async () => {
    const { sbx } = await setUp();
    const voice = { type: 'audio', audio: { link: 'https://example.com/v.ogg', voice: true } };
    const before = await send(sbx, voice);
    await waitFor(async () => (await names(sbx, before))?.includes('read'), { what: 'read' });
    await sbx.control('PUT', `/customers/${CUSTOMER}`, { playsVoiceNotes: true });
    const played = await send(sbx, voice);
    const plain = await send(sbx, { type: 'audio', audio: { link: 'https://example.com/a.mp3' } });
    await waitFor(async () => (await names(sbx, played))?.includes('played'), { what: 'played' });
    await waitFor(async () => (await names(sbx, plain))?.includes('read'), { what: 'plain read' });
    await idle(sbx);
    expect(await names(sbx, played)).toEqual(['sent', 'delivered', 'read', 'played']);
    expect(await names(sbx, plain)).toEqual(['sent', 'delivered', 'read']);
    expect(await names(sbx, before)).toEqual(['sent', 'delivered', 'read']);
  });

  it('rejects voice on non-audio media and a non-boolean voice (ref §2.4)', async () => {
    const { sbx } = await setUp();
    const onImage = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type: 'image',
      image: { link: 'https://example.com/a.jpg', voice: true },
    });
    expect(onImage.status).toBe(400);
    expect(graphError(onImage.json).code).toBe(100);
    const notBoolean = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type: 'audio',
      audio: { link: 'https://example.com/v.ogg', voice: 'yes' },
    });
    expect(notBoolean.status).toBe(400);
    expect(graphError(notBoolean.json).code).toBe(131009);
  });
});
