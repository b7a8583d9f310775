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
  OTHER_WABA_ID,
  startReceiver,
  startSandbox,
  TOKEN,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxlimits');
const DAY = 86_400_000;
let sbx: Harness | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
closeAfterEachTest();

describe('limits', () => {
  it('management calls per app × WABA with a registered number stop at 5,000 per rolling hour with 80007 (ref §5.4, §12)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    const h = sbx;
    const call = async () => {
      const r = await h.app.inject({
        url: `/v23.0/${WABA_ID}/subscribed_apps`,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return r.statusCode === 200 ? 0 : (r.json() as { error: { code: number } }).error.code;
    };
    let admitted = 0;
    for (let i = 0; i < 5_000; i++) if ((await call()) === 0) admitted++;
    expect(admitted).toBe(5_000);
    expect(await call()).toBe(80007);
    clock.advance(3_599_999);
    expect(await call()).toBe(80007);
    clock.advance(1);
    expect(await call()).toBe(0);
  });

  it('counts inbound messages toward the number throughput: 80 inbound in a second leave no room for a send (ref §5.1, §12)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    const inbound = await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: Array.from({ length: 80 }, (_, i) => ({ kind: 'text', text: `m${i}` })),
    });
    expect((inbound.json.ids as string[]).length).toBe(80);
    const text = { messaging_product: 'whatsapp', to: CUSTOMER, text: { body: 'reply' } };
    const refused = await sbx.graph('POST', `/${NUMBER_ID}/messages`, text);
    expect(refused.status).toBe(400);
    expect(graphError(refused.json).code).toBe(130429);
    clock.advance(1_000);
    const accepted = await sbx.graph('POST', `/${NUMBER_ID}/messages`, text);
    expect(accepted.status).toBe(200);
    expect(accepted.json).toMatchObject({
      contacts: [{ input: CUSTOMER, wa_id: CUSTOMER }],
      messages: [{ id: expect.stringMatching(/^wamid\./) }],
    });
  });

  it('caps a WABA at 250 templates with subcode 2388019 (ref §5.5, §12 management surface)', async () => {
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl });
    const seeded = await sbx.control('POST', '/world', {
      templates: Array.from({ length: 249 }, (_, i) => ({
        wabaId: OTHER_WABA_ID,
        name: `seeded_${i}`,
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Hello.' }],
      })),
    });
    expect(seeded.status).toBe(200);
    const create = (name: string) =>
      sbx!.graph('POST', `/${OTHER_WABA_ID}/message_templates`, {
        name,
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Hello again.' }],
      });
    expect((await create('number_250')).status).toBe(200);
    const over = await create('number_251');
    expect(over.status).toBe(400);
    expect(graphError(over.json)).toMatchObject({ code: 100, error_subcode: 2388019 });
    // Other WABAs keep their own count.
    expect(
      (
        await sbx.graph('POST', `/${WABA_ID}/message_templates`, {
          name: 'number_251',
          language: 'en_US',
          category: 'UTILITY',
          components: [{ type: 'BODY', text: 'Hello again.' }],
        })
      ).status,
    ).toBe(200);
  });
});

describe('inbound media lifetime', () => {
  it('expires media ids from inbound webhooks after 7 days (ref §10, §12)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [{ kind: 'image', caption: 'pic' }],
    });
    const inbound = (await sbx.control('GET', '/inbound')).json.messages as Array<{
      message: { image?: { id: string } };
    }>;
    const id = inbound[0]?.message.image?.id ?? '';
    expect(id).not.toBe('');
    expect((await sbx.graph('GET', `/${id}`)).status).toBe(200);
    clock.advance(7 * DAY - 1);
    expect((await sbx.graph('GET', `/${id}`)).json.id).toBe(id);
    clock.advance(1);
    const gone = await sbx.graph('GET', `/${id}`);
    expect(gone.status).not.toBe(200);
    expect(graphError(gone.json).code).toBe(100);
  });
});

describe('pricing by template category (ref §6, §12)', () => {
  function seed(url: string): Seed {
    const s = baseSeed(url);
    return {
      ...s,
      templates: [
        ...(s.templates ?? []),
        {
          wabaId: WABA_ID,
          name: 'pickup_ready',
          language: 'en_US',
          category: 'UTILITY',
          components: [{ type: 'BODY', text: 'Your order is ready.' }],
        },
        {
          wabaId: WABA_ID,
          name: 'login_code',
          language: 'en_US',
          category: 'AUTHENTICATION',
          components: [{ type: 'BODY', text: 'Your code is {{1}}.' }],
        },
      ],
    };
  }

  it('prices a utility template inside the service window free_customer_service, authentication always regular (ref §6, §12)', async () => {
    receiver = await startReceiver();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: seed(receiver.url) });
    const h = sbx;
    const r = receiver;
    const send = async (to: string, template: Record<string, unknown>) => {
      const res = await h.graph('POST', `/${NUMBER_ID}/messages`, {
        messaging_product: 'whatsapp',
        to,
        type: 'template',
        template,
      });
      expect(res.status).toBe(200);
      return (res.json.messages as Array<{ id: string }>)[0]?.id ?? '';
    };
    const utility = { name: 'pickup_ready', language: { code: 'en_US' } };
    const auth = {
      name: 'login_code',
      language: { code: 'en_US' },
      components: [{ type: 'body', parameters: [{ type: 'text', text: '123456' }] }],
    };
    await h.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [{ kind: 'text', text: 'hi' }],
    });
    const outsider = '16505557777'; // never wrote: no service window
    const ids = {
      utilityIn: await send(CUSTOMER, utility),
      authIn: await send(CUSTOMER, auth),
      utilityOut: await send(outsider, utility),
      authOut: await send(outsider, auth),
    };
    const sentOf = (id: string) =>
      (r.statuses() as StatusObject[]).find((s) => s.id === id && s.status === 'sent');
    await waitFor(() => Object.values(ids).every((id) => sentOf(id) !== undefined), {
      what: 'sent statuses',
    });
    expect(sentOf(ids.utilityIn)?.pricing).toEqual({
      billable: false,
      pricing_model: 'PMP',
      type: 'free_customer_service',
      category: 'utility',
    });
    const regularAuth = { billable: true, pricing_model: 'PMP', type: 'regular', category: 'authentication' };
    expect(sentOf(ids.authIn)?.pricing).toEqual(regularAuth);
    expect(sentOf(ids.authOut)?.pricing).toEqual(regularAuth);
    expect(sentOf(ids.utilityOut)?.pricing).toEqual({
      billable: true,
      pricing_model: 'PMP',
      type: 'regular',
      category: 'utility',
    });
  });
});
