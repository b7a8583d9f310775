import { Value } from '@sinclair/typebox/value';
import { MediaInfo, PhoneNumberInfo, TemplateStatusUpdateValue } from '@wapi/contracts';
import { useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_ID,
  APP_SECRET,
  baseSeed,
  CUSTOMER,
  graphError,
  type Harness,
  NARROW_TOKEN,
  NUMBER_ID,
  OTHER_WABA_ID,
  startReceiver,
  startSandbox,
  TOKEN,
  UNREGISTERED_ID,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxmgmt');
let sbx: Harness;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
  sbx = await startSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed: baseSeed(receiver.url),
    env: { SANDBOX_TEMPLATE_REVIEW_MS: '20' },
  });
});
afterAll(async () => {
  await sbx?.close();
  await receiver?.close();
});

async function upload(type: string, bytes: Buffer, token = TOKEN) {
  const form = new FormData();
  form.set('messaging_product', 'whatsapp');
  form.set('type', type);
  form.set('file', new Blob([bytes], { type }), 'f.bin');
  const r = await fetch(`${sbx.url}/v23.0/${NUMBER_ID}/media`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

describe('media (ref §10)', () => {
  it('uploads, returns a 5-minute URL, downloads with the bearer only, sends by id, deletes (ref §10, §2.4)', async () => {
    const bytes = Buffer.from('%PDF-1.4 sandbox');
    const up = await upload('application/pdf', bytes);
    expect(up.status).toBe(200);
    const id = String(up.json.id);
    const info = await sbx.graph('GET', `/${id}`);
    expect(Value.Check(MediaInfo, info.json)).toBe(true);
    expect(info.json.file_size).toBe(String(bytes.length));
    const url = String(info.json.url);
    expect((await fetch(url)).status).toBe(401);
    const download = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(bytes);
    expect((await sbx.graph('GET', `/${id}?phone_number_id=999`)).status).toBe(400);
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [{ kind: 'text', text: 'hi' }],
    });
    const sent = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type: 'document',
      document: { id, filename: 'a.pdf' },
    });
    expect(sent.status).toBe(200);
    expect((await sbx.graph('DELETE', `/${id}`)).json).toEqual({ success: true });
    expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });

  it('rejects unsupported MIME types, oversized files and uploads without a token (ref §10, §1.2)', async () => {
    expect(graphError((await upload('image/gif', Buffer.from('x'))).json).code).toBe(100);
    expect(graphError((await upload('image/webp', Buffer.alloc(600 * 1024))).json).code).toBe(100);
    expect((await upload('image/png', Buffer.from('x'), 'EAAbad')).status).toBe(401);
  });

  it('expires media URLs after 5 minutes (ref §10)', async () => {
    const clock = { t: Date.now() };
    const local = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: () => clock.t });
    try {
      const form = new FormData();
      form.set('messaging_product', 'whatsapp');
      form.set('file', new Blob([Buffer.from('img')], { type: 'image/png' }), 'a.png');
      const up = await fetch(`${local.url}/v23.0/${NUMBER_ID}/media`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: form,
      });
      const id = String(((await up.json()) as { id: string }).id);
      const url = String((await local.graph('GET', `/${id}`)).json.url);
      clock.t += 5 * 60_000;
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await local.close();
    }
  });
});

describe('templates (ref §7)', () => {
  it('creates PENDING, approves after the review delay with a status webhook, lists and deletes (ref §7.1, §7.4, §3.7)', async () => {
    const created = await sbx.graph('POST', `/${WABA_ID}/message_templates`, {
      name: 'welcome_note',
      language: 'en_US',
      category: 'utility',
      components: [{ type: 'BODY', text: 'Hello {{1}}, welcome.' }],
    });
    expect(created.json).toMatchObject({ status: 'PENDING', category: 'UTILITY' });
    await waitFor(() => receiver.values('message_template_status_update').length > 0, {
      what: 'template webhook',
    });
    const update = receiver.values('message_template_status_update')[0];
    expect(Value.Check(TemplateStatusUpdateValue, update)).toBe(true);
    expect(update).toMatchObject({ event: 'APPROVED', message_template_name: 'welcome_note' });
    expect(
      receiver.received.find((r) => r.body.entry[0]?.changes[0]?.field === 'message_template_status_update')
        ?.body.entry[0]?.time,
    ).toEqual(expect.any(Number));
    const listed = await sbx.graph('GET', `/${WABA_ID}/message_templates?name=welcome_note&status=APPROVED`);
    expect((listed.json.data as Array<{ id: string }>)[0]?.id).toBe(created.json.id);
    const byId = await sbx.graph('GET', `/${String(created.json.id)}`);
    expect(byId.json.status).toBe('APPROVED');
    expect((await sbx.graph('DELETE', `/${WABA_ID}/message_templates?name=welcome_note`)).json).toEqual({
      success: true,
    });
    expect(
      graphError((await sbx.graph('DELETE', `/${WABA_ID}/message_templates?name=welcome_note`)).json).code,
    ).toBe(100);
  });

  it('rejects templates whose name starts with reject (sandbox rule) with a REJECTED webhook (ref §7.4)', async () => {
    await sbx.graph('POST', `/${WABA_ID}/message_templates`, {
      name: 'reject_me',
      language: 'en_US',
      category: 'MARKETING',
      components: [{ type: 'BODY', text: 'Buy now.' }],
    });
    await waitFor(
      () =>
        receiver
          .values('message_template_status_update')
          .some((v) => v.message_template_name === 'reject_me'),
      { what: 'reject' },
    );
    expect(
      receiver.values('message_template_status_update').find((v) => v.message_template_name === 'reject_me'),
    ).toMatchObject({ event: 'REJECTED', reason: 'INVALID_FORMAT' });
  });

  it.each([
    [
      'missing name',
      { language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: 'x' }] },
      undefined,
    ],
    [
      'bad category',
      { name: 'a', language: 'en_US', category: 'PROMO', components: [{ type: 'BODY', text: 'x' }] },
      undefined,
    ],
    ['no body', { name: 'a', language: 'en_US', category: 'UTILITY', components: [] }, undefined],
    [
      'leading parameter',
      { name: 'a', language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: '{{1}} hi' }] },
      2388299,
    ],
    [
      'duplicate name+language',
      {
        name: 'order_update',
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'x' }],
      },
      2388024,
    ],
  ])('refuses a create with %s (ref §7.2, §4)', async (_n, body, subcode) => {
    const r = await sbx.graph('POST', `/${WABA_ID}/message_templates`, body);
    expect(r.status).toBe(400);
    expect(graphError(r.json).code).toBe(100);
    if (subcode) expect(graphError(r.json).error_subcode).toBe(subcode);
  });

  it('needs a token with access to the WABA (ref §1.2)', async () => {
    expect((await sbx.graph('GET', `/${WABA_ID}/message_templates`, undefined, NARROW_TOKEN)).status).toBe(
      403,
    );
    expect((await sbx.graph('GET', `/${WABA_ID}/message_templates`, undefined, null)).status).toBe(401);
  });
});

describe('embedded signup (ref §8)', () => {
  it('exchanges a single-use code for a business token scoped to the WABA (ref §8.1)', async () => {
    const code = String(
      (await sbx.control('POST', '/oauth-codes', { appId: APP_ID, wabaIds: [OTHER_WABA_ID] })).json.code,
    );
    const exchange = (c: string, secret = APP_SECRET) =>
      fetch(`${sbx.url}/v23.0/oauth/access_token?client_id=${APP_ID}&client_secret=${secret}&code=${c}`).then(
        async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }),
      );
    expect((await exchange(code, 'wrong')).status).toBe(400);
    const first = await exchange(code);
    expect(first.json).toEqual({ access_token: expect.stringMatching(/^EAA/), token_type: 'bearer' });
    expect(graphError((await exchange(code)).json).error_subcode).toBe(36009);
    const token = String(first.json.access_token);
    expect((await sbx.graph('GET', `/${OTHER_WABA_ID}/phone_numbers`, undefined, token)).status).toBe(200);
    expect((await sbx.graph('GET', `/${WABA_ID}/phone_numbers`, undefined, token)).status).toBe(403);
    const debug = await sbx.graph('GET', `/debug_token?input_token=${token}`);
    expect(debug.json.data).toMatchObject({
      is_valid: true,
      app_id: APP_ID,
      granular_scopes: expect.arrayContaining([
        { scope: 'whatsapp_business_management', target_ids: [OTHER_WABA_ID] },
      ]),
    });
  });

  it('expires codes after 30 s (ref §8.1)', async () => {
    const clock = { t: Date.now() };
    const local = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: () => clock.t });
    try {
      const code = String(
        (await local.control('POST', '/oauth-codes', { appId: APP_ID, wabaIds: [WABA_ID] })).json.code,
      );
      clock.t += 30_000;
      const r = await fetch(
        `${local.url}/v23.0/oauth/access_token?client_id=${APP_ID}&client_secret=${APP_SECRET}&code=${code}`,
      );
      expect(((await r.json()) as { error: { error_subcode: number } }).error.error_subcode).toBe(36007);
    } finally {
      await local.close();
    }
  });

  it('subscribes, lists and unsubscribes the calling app (ref §8.2)', async () => {
    expect((await sbx.graph('DELETE', `/${OTHER_WABA_ID}/subscribed_apps`)).json).toEqual({ success: true });
    expect((await sbx.graph('GET', `/${OTHER_WABA_ID}/subscribed_apps`)).json).toEqual({ data: [] });
    expect((await sbx.graph('POST', `/${OTHER_WABA_ID}/subscribed_apps`)).json).toEqual({ success: true });
    expect(
      ((await sbx.graph('GET', `/${OTHER_WABA_ID}/subscribed_apps`)).json.data as unknown[]).length,
    ).toBe(1);
  });

  it('registers with a 6-digit pin, refuses a wrong pin and more than 10 calls in 72 h (ref §8.4, §4)', async () => {
    const register = (pin: unknown) =>
      sbx.graph('POST', `/${UNREGISTERED_ID}/register`, { messaging_product: 'whatsapp', pin });
    expect(graphError((await register('12345')).json).code).toBe(100);
    expect(
      graphError((await sbx.graph('POST', `/${UNREGISTERED_ID}/register`, { pin: '123456' })).json).code,
    ).toBe(100);
    expect((await register('123456')).json).toEqual({ success: true });
    expect(graphError((await register('654321')).json).code).toBe(133005);
    for (let i = 0; i < 8; i++) await register('123456');
    expect(graphError((await register('123456')).json).code).toBe(133016);
  });

  it('lists phone numbers with default fields and reads a number with §8.5 fields (ref §8.5, §5.1, §5.3)', async () => {
    const list = await sbx.graph('GET', `/${WABA_ID}/phone_numbers`);
    const first = (list.json.data as Array<Record<string, unknown>>).find((n) => n.id === NUMBER_ID);
    expect(Object.keys(first ?? {}).sort()).toEqual([
      'display_phone_number',
      'id',
      'quality_rating',
      'verified_name',
    ]);
    const node = await sbx.graph('GET', `/${NUMBER_ID}`);
    expect(Value.Check(PhoneNumberInfo, node.json)).toBe(true);
    expect(node.json).toMatchObject({
      verified_name: 'Lucky Shrub',
      display_phone_number: '15550783881',
      quality_rating: 'GREEN',
      platform_type: 'CLOUD_API',
      throughput: { level: 'STANDARD' },
    });
    const fields = await sbx.graph(
      'GET',
      `/${NUMBER_ID}?fields=whatsapp_business_manager_messaging_limit,messaging_limit_tier,status`,
    );
    expect(fields.json).toEqual({
      id: NUMBER_ID,
      whatsapp_business_manager_messaging_limit: 'TIER_2K',
      messaging_limit_tier: 'TIER_2K',
      status: 'CONNECTED',
    });
  });
});
