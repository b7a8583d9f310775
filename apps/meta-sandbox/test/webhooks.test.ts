import { Value } from '@sinclair/typebox/value';
import { StatusObject, UserPreferencesValue, WebhookEnvelope } from '@wapi/contracts';
import { useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  APP_ID,
  baseSeed,
  CUSTOMER,
  closeAfterEachTest,
  type Harness,
  NUMBER_ID,
  startReceiver,
  startSandbox,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxhook');
let sbx: Harness | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
closeAfterEachTest();

async function setUp(env: Record<string, string> = {}, verifyToken?: string) {
  receiver = await startReceiver(verifyToken ? { verifyToken } : {});
  sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: baseSeed(receiver.url), env });
  return { sbx, receiver };
}

const openWindow = (h: Harness, from = CUSTOMER) =>
  h.control('POST', '/inbound', { phoneNumberId: NUMBER_ID, from, messages: [{ kind: 'text', text: 'hi' }] });

async function sendText(h: Harness, url = '/v23.0', to = CUSTOMER) {
  const r = await fetch(`${h.url}${url}/${NUMBER_ID}/messages`, {
    method: 'POST',
    headers: { authorization: 'Bearer EAAtestsystemtoken0001', 'content-type': 'application/json' },
    body: JSON.stringify({
      messaging_product: 'whatsapp',
      to,
      text: { body: 'x' },
      biz_opaque_callback_data: 'ref-1',
    }),
  });
  const json = (await r.json()) as { messages: Array<{ id: string }> };
  return json.messages[0]?.id ?? '';
}

const statusesOf = (r: NonNullable<typeof receiver>, wamid: string) =>
  r.statuses().filter((s) => s.id === wamid) as StatusObject[];

describe('webhook delivery', () => {
  it('signs every POST with X-Hub-Signature-256 over the exact bytes, in the §3.3 envelope (ref §3.2, §3.3)', async () => {
    const { sbx, receiver } = await setUp();
    await openWindow(sbx);
    await waitFor(() => receiver.received.length > 0, { what: 'inbound webhook' });
    const [first] = receiver.received;
    expect(first?.signatureOk).toBe(true);
    expect(Value.Check(WebhookEnvelope, first?.body)).toBe(true);
    expect(first?.body.entry[0]?.id).toBe(WABA_ID);
    expect(first?.body.entry[0]?.time).toBeUndefined();
  });

  it('sends sent → delivered → read with pricing, conversation before v24, opaque data echoed (ref §3.5, §6)', async () => {
    const { sbx, receiver } = await setUp();
    await openWindow(sbx);
    const wamid = await sendText(sbx, '/v21.0');
    await waitFor(() => statusesOf(receiver, wamid).length === 3, { what: 'three statuses' });
    const statuses = statusesOf(receiver, wamid);
    expect(statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    for (const s of statuses) {
      expect(Value.Check(StatusObject, s)).toBe(true);
      expect(s.biz_opaque_callback_data).toBe('ref-1');
      expect(s.recipient_id).toBe(CUSTOMER);
    }
    const [sent, delivered, read] = statuses;
    expect(sent?.pricing).toEqual({
      billable: false,
      pricing_model: 'PMP',
      type: 'free_customer_service',
      category: 'service',
    });
    expect(sent?.conversation?.expiration_timestamp).toMatch(/^\d+$/);
    expect(delivered?.pricing).toBeDefined();
    expect(delivered?.conversation?.expiration_timestamp).toBeUndefined();
    expect(read?.pricing).toBeUndefined();
  });

  it('omits conversation from v24 on and prices a marketing template as regular (ref §1.1, §3.5, §6)', async () => {
    const { sbx, receiver } = await setUp();
    const r = await sbx
      .graph('POST', `/${NUMBER_ID}/messages`, {
        messaging_product: 'whatsapp',
        to: CUSTOMER,
        type: 'template',
        template: { name: 'spring_sale', language: { code: 'en_US' } },
      })
      .then((x) => x);
    const wamid = (r.json.messages as Array<{ id: string }>)[0]?.id ?? '';
    const v24 = await fetch(`${sbx.url}/v24.0/${NUMBER_ID}/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer EAAtestsystemtoken0001', 'content-type': 'application/json' },
      body: JSON.stringify({
        messaging_product: 'whatsapp',
        to: CUSTOMER,
        type: 'template',
        template: { name: 'spring_sale', language: { code: 'en_US' } },
      }),
    }).then(async (x) => ((await x.json()) as { messages: Array<{ id: string }> }).messages[0]?.id ?? '');
    await waitFor(() => statusesOf(receiver, v24).length === 3 && statusesOf(receiver, wamid).length === 3, {
      what: 'statuses',
    });
    const sent24 = statusesOf(receiver, v24)[0];
    expect(sent24?.conversation).toBeUndefined();
    expect(sent24?.pricing).toEqual({
      billable: true,
      pricing_model: 'PMP',
      type: 'regular',
      category: 'marketing',
    });
    expect(statusesOf(receiver, wamid)[0]?.conversation?.origin.type).toBe('marketing');
  });

  it('never sends read with read receipts off, and holds delivered while the device is offline (ref §3.5, §12)', async () => {
    const { sbx, receiver } = await setUp();
    await openWindow(sbx);
    await sbx.control('PUT', `/customers/${CUSTOMER}`, { readReceipts: false, online: false });
    const wamid = await sendText(sbx);
    await waitFor(() => statusesOf(receiver, wamid).length === 1, { what: 'sent' });
    const messages = await sbx.control('GET', `/messages?to=${CUSTOMER}`);
    expect(
      (messages.json.messages as Array<{ wamid: string; awaitingDevice: boolean }>).find(
        (m) => m.wamid === wamid,
      )?.awaitingDevice,
    ).toBe(true);
    await sbx.control('PUT', `/customers/${CUSTOMER}`, { online: true });
    await waitFor(() => statusesOf(receiver, wamid).some((s) => s.status === 'delivered'), {
      what: 'delivered',
    });
    // A later message proves the pipeline moved on; still no read for either.
    const second = await sendText(sbx);
    await waitFor(() => statusesOf(receiver, second).some((s) => s.status === 'delivered'), {
      what: 'second delivered',
    });
    expect(receiver.statuses().some((s) => s.status === 'read')).toBe(false);
  });

  it('fails asynchronously: 131047 outside the window, 131026 not on WhatsApp, 131050 stopped marketing (ref §4, §9, §12)', async () => {
    const { sbx, receiver } = await setUp();
    const outside = await sendText(sbx); // no inbound yet: window closed, async by default
    await sbx.control('PUT', '/customers/16505550001', { onWhatsApp: false });
    const template = (to: string) =>
      sbx.graph('POST', `/${NUMBER_ID}/messages`, {
        messaging_product: 'whatsapp',
        to,
        type: 'template',
        template: { name: 'spring_sale', language: { code: 'en_US' } },
      });
    const undeliverable =
      ((await template('16505550001')).json.messages as Array<{ id: string }>)[0]?.id ?? '';
    await sbx.control('POST', '/user-preferences', {
      phoneNumberId: NUMBER_ID,
      waId: '16505550002',
      value: 'stop',
    });
    const stopped = ((await template('16505550002')).json.messages as Array<{ id: string }>)[0]?.id ?? '';
    await waitFor(
      () => [outside, undeliverable, stopped].every((id) => statusesOf(receiver, id).length === 1),
      { what: 'failed statuses' },
    );
    const codeOf = (id: string) => statusesOf(receiver, id)[0]?.errors?.[0]?.code;
    expect(statusesOf(receiver, outside)[0]?.status).toBe('failed');
    expect([codeOf(outside), codeOf(undeliverable), codeOf(stopped)]).toEqual([131047, 131026, 131050]);
    expect(statusesOf(receiver, stopped)[0]?.errors?.[0]).toMatchObject({
      title: expect.any(String),
      href: expect.any(String),
    });
    const prefs = receiver.values('user_preferences');
    expect(Value.Check(UserPreferencesValue, prefs[0])).toBe(true);
  });

  it('answers 131047 synchronously when SANDBOX_REENGAGEMENT_MODE=sync (ref §4 note on 131047)', async () => {
    const { sbx } = await setUp({ SANDBOX_REENGAGEMENT_MODE: 'sync' });
    const r = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      text: { body: 'x' },
    });
    expect(r.status).toBe(400);
    expect((r.json.error as { code: number }).code).toBe(131047);
  });

  it('sends only `sent` for reactions, and 131009 failed for an unknown target (ref §2.8)', async () => {
    const { sbx, receiver } = await setUp();
    await openWindow(sbx);
    const target = await sendText(sbx);
    const react = async (id: string) =>
      (
        (
          await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
            messaging_product: 'whatsapp',
            to: CUSTOMER,
            type: 'reaction',
            reaction: { message_id: id, emoji: '👍' },
          })
        ).json.messages as Array<{ id: string }>
      )[0]?.id ?? '';
    const good = await react(target);
    const bad = await react('wamid.unknown');
    await waitFor(() => statusesOf(receiver, target).length === 3 && statusesOf(receiver, bad).length === 1, {
      what: 'statuses',
    });
    expect(statusesOf(receiver, good).map((s) => s.status)).toEqual(['sent']);
    expect(statusesOf(receiver, bad)[0]?.errors?.[0]?.code).toBe(131009);
  });

  it('drops `delivered` on demand and sends `read` with the pricing (ref §3.5, §12 fault injection)', async () => {
    const { sbx, receiver } = await setUp();
    await openWindow(sbx);
    await sbx.control('PUT', '/faults', { dropDelivered: true });
    const wamid = await sendText(sbx);
    await waitFor(() => statusesOf(receiver, wamid).length === 2, { what: 'sent+read' });
    const statuses = statusesOf(receiver, wamid);
    expect(statuses.map((s) => s.status)).toEqual(['sent', 'read']);
    expect(statuses[1]?.pricing).toBeDefined();
  });

  it('batches several messages in one value and retries a failed POST with identical bytes (ref §3.6)', async () => {
    let failedBody = '';
    receiver = await startReceiver({
      fail: (n, raw) => {
        if (n !== 1) return false;
        failedBody = raw;
        return true;
      },
    });
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: baseSeed(receiver.url) });
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: Array.from({ length: 5 }, (_, i) => ({ kind: 'text', text: `m${i}` })),
    });
    const r = receiver;
    await waitFor(() => r.received.length >= 1, { what: 'retried POST' });
    expect(r.received[0]?.raw).toBe(failedBody);
    // §3.6: Meta batches updates of one number in one value: five messages, one change.
    expect(r.received[0]?.body.entry).toHaveLength(1);
    expect(r.received[0]?.body.entry[0]?.changes).toHaveLength(1);
    const value = r.received[0]?.body.entry[0]?.changes[0]?.value;
    expect((value?.messages as Array<{ text: { body: string } }>).map((m) => m.text.body)).toEqual([
      'm0',
      'm1',
      'm2',
      'm3',
      'm4',
    ]);
    expect(value?.contacts).toEqual([{ profile: { name: expect.any(String) }, wa_id: CUSTOMER }]);
    const hooks = await sbx.control('GET', '/webhooks');
    expect((hooks.json.deliveries as Array<{ attempts: number }>)[0]?.attempts).toBe(2);
  });

  it('gives up after the retry horizon (ref §3.6)', async () => {
    receiver = await startReceiver({ fail: () => true });
    sbx = await startSandbox({
      redisUrl: ctx.infra.redisUrl,
      seed: baseSeed(receiver.url),
      env: { SANDBOX_WEBHOOK_RETRY_HORIZON_MS: '600', SANDBOX_WEBHOOK_RETRY_BASE_MS: '5' },
    });
    await openWindow(sbx);
    const h = sbx;
    await waitFor(
      async () => ((await h.control('GET', '/webhooks')).json.stats as { givenUp: number }).givenUp === 1,
      { what: 'give up' },
    );
    expect(receiver.posts()).toBeGreaterThanOrEqual(3);
  });

  it('verifies an override callback with the GET handshake and routes messages there (ref §3.1, §8.3)', async () => {
    const { sbx } = await setUp();
    const override = await startReceiver({ verifyToken: 'vt-1' });
    try {
      const bad = await sbx.graph('POST', `/${WABA_ID}/subscribed_apps`, {
        override_callback_uri: override.url,
        verify_token: 'wrong',
      });
      expect(bad.status).toBe(400);
      expect((bad.json.error as { code: number }).code).toBe(2200);
      const ok = await sbx.graph('POST', `/${WABA_ID}/subscribed_apps`, {
        override_callback_uri: override.url,
        verify_token: 'vt-1',
      });
      expect(ok.json).toEqual({ success: true });
      const list = await sbx.graph('GET', `/${WABA_ID}/subscribed_apps`);
      expect(list.json.data).toEqual([
        {
          whatsapp_business_api_data: { id: APP_ID, link: expect.any(String), name: 'Test App' },
          override_callback_uri: override.url,
        },
      ]);
      await openWindow(sbx);
      await waitFor(() => override.received.length === 1, { what: 'override delivery' });
      expect(override.received[0]?.signatureOk).toBe(true);
    } finally {
      await override.close();
    }
  });

  it('produces every inbound type with contacts, string timestamps and media URLs (ref §3.4, §9)', async () => {
    const { sbx, receiver } = await setUp();
    const kinds = [
      { kind: 'text', text: 'hello', referral: { source_type: 'ad', source_id: '1', ctwa_clid: 'c' } },
      { kind: 'image', caption: 'pic' },
      { kind: 'video' },
      { kind: 'audio', voice: true },
      { kind: 'document', filename: 'a.pdf' },
      { kind: 'sticker', animated: true },
      { kind: 'button', text: 'Yes', payload: 'yes-1', messageId: 'wamid.t' },
      { kind: 'stop_promotions', messageId: 'wamid.t' },
      { kind: 'button_reply', replyId: 'a', title: 'A' },
      { kind: 'list_reply', replyId: 'r', title: 'Row', description: 'd' },
      { kind: 'location', latitude: 1.5, longitude: 2.5, name: 'N' },
      { kind: 'reaction', messageId: 'wamid.t', emoji: '❤️' },
      { kind: 'reaction', messageId: 'wamid.t' },
      { kind: 'contacts' },
      { kind: 'order' },
      { kind: 'unsupported' },
    ];
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      name: 'Sheena',
      messages: kinds,
    });
    await waitFor(() => receiver.messages().length === kinds.length, { what: 'all inbound' });
    const values = receiver.values();
    const messages = receiver.messages();
    expect(values[0]?.contacts).toEqual([{ profile: { name: 'Sheena' }, wa_id: CUSTOMER }]);
    expect(messages.map((m) => m.type)).toEqual([
      'text',
      'image',
      'video',
      'audio',
      'document',
      'sticker',
      'button',
      'button',
      'interactive',
      'interactive',
      'location',
      'reaction',
      'reaction',
      'contacts',
      'order',
      'unsupported',
    ]);
    for (const m of messages) expect(m.timestamp).toMatch(/^\d+$/);
    expect(messages[7]?.button).toEqual({ payload: 'Stop promotions', text: 'Stop promotions' });
    expect(messages[12]?.reaction).toEqual({ message_id: 'wamid.t' });
    expect((messages[15]?.errors as Array<{ code: number }>)[0]?.code).toBe(131051);
    // Inbound media is downloadable with the token (§10).
    const image = messages[1]?.image as { url: string; sha256: string };
    const download = await fetch(image.url, { headers: { authorization: 'Bearer EAAtestsystemtoken0001' } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/jpeg');
  });
});
