import { useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  baseSeed,
  CUSTOMER,
  closeAfterEachTest,
  graphError,
  type Harness,
  NARROW_TOKEN,
  NUMBER_ID,
  OTHER_NUMBER_ID,
  OTHER_WABA_ID,
  startReceiver,
  startSandbox,
  TOKEN,
  UNREGISTERED_ID,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxobj');
let sbx: Harness | undefined;
closeAfterEachTest();

async function setUp(callbackUrl?: string): Promise<Harness> {
  sbx = await startSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed: baseSeed(callbackUrl),
    env: { SANDBOX_THROUGHPUT_MPS: '1000', SANDBOX_PAIR_BURST: '1000' },
  });
  return sbx;
}

const inbound = (h: Harness, text = 'hi') =>
  h.control('POST', '/inbound', {
    phoneNumberId: NUMBER_ID,
    from: CUSTOMER,
    messages: [{ kind: 'text', text }],
  });

const register = (h: Harness, pin: string) =>
  h.graph('POST', `/${UNREGISTERED_ID}/register`, { messaging_product: 'whatsapp', pin });

describe('POST /{phone-number-id} (ref §8.3, §8.4)', () => {
  it('sets a webhook_configuration override only after the GET handshake echoes the challenge, routes messages there and clears it (ref §3.1, §8.3)', async () => {
    const app = await startReceiver();
    const h = await setUp(app.url);
    const override = await startReceiver({ verifyToken: 'vt-number' });

    const bad = await h.graph('POST', `/${NUMBER_ID}`, {
      webhook_configuration: { override_callback_uri: override.url, verify_token: 'wrong' },
    });
    expect(bad.status).toBe(400);
    expect(graphError(bad.json).code).toBe(2200);
    expect(override.posts()).toBe(0);

    const ok = await h.graph('POST', `/${NUMBER_ID}`, {
      webhook_configuration: { override_callback_uri: override.url, verify_token: 'vt-number' },
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ success: true });
    const node = await h.graph('GET', `/${NUMBER_ID}?fields=webhook_configuration`);
    expect(node.json).toEqual({
      id: NUMBER_ID,
      webhook_configuration: { application: app.url, phone_number: override.url },
    });

    await inbound(h, 'to override');
    await waitFor(() => override.received.length === 1, { what: 'override delivery' });
    expect(override.received[0]?.signatureOk).toBe(true);
    expect(override.values()[0]?.messages).toEqual([expect.objectContaining({ from: CUSTOMER })]);

    const cleared = await h.graph('POST', `/${NUMBER_ID}`, {
      webhook_configuration: { override_callback_uri: '' },
    });
    expect(cleared.json).toEqual({ success: true });
    expect((await h.graph('GET', `/${NUMBER_ID}?fields=webhook_configuration`)).json).toEqual({
      id: NUMBER_ID,
      webhook_configuration: { application: app.url },
    });
    await inbound(h, 'back to app');
    await waitFor(() => app.values().length === 1, { what: 'app delivery after clearing' });
    expect(override.received.length).toBe(1);
  });

  it.each([
    ['a non-URL override', { webhook_configuration: { override_callback_uri: 'ftp://x.example/hook' } }],
    [
      'an override longer than 200 characters',
      { webhook_configuration: { override_callback_uri: `https://x.example/${'a'.repeat(200)}` } },
    ],
    ['a 5-digit pin', { pin: '12345' }],
    ['a non-numeric pin', { pin: '12345a' }],
    ['a numeric (not string) pin', { pin: 123456 }],
    ['nothing to update', {}],
  ])('refuses %s with code 100 (ref §8.3, §8.4, §4)', async (_name, body) => {
    const h = await setUp();
    const r = await h.graph('POST', `/${NUMBER_ID}`, body);
    expect(r.status).toBe(400);
    expect(graphError(r.json)).toMatchObject({ code: 100, type: 'OAuthException' });
  });

  it('changes the two-step verification PIN, which register then requires (ref §8.4)', async () => {
    const h = await setUp();
    expect((await register(h, '111111')).json).toEqual({ success: true });
    const changed = await h.graph('POST', `/${UNREGISTERED_ID}`, { pin: '222222' });
    expect(changed.status).toBe(200);
    expect(changed.json).toEqual({ success: true });
    expect(graphError((await register(h, '111111')).json).code).toBe(133005);
    expect((await register(h, '222222')).json).toEqual({ success: true });
  });

  it('answers 401 code 190 without a token, 403 code 200 for a token without the number, 100/33 for an unknown id (ref §1.2, §1.3, §12)', async () => {
    const h = await setUp();
    const anonymous = await h.graph('POST', `/${UNREGISTERED_ID}`, { pin: '123456' }, null);
    expect(anonymous.status).toBe(401);
    expect(graphError(anonymous.json).code).toBe(190);
    const narrow = await h.graph('POST', `/${UNREGISTERED_ID}`, { pin: '123456' }, NARROW_TOKEN);
    expect(narrow.status).toBe(403);
    expect(graphError(narrow.json).code).toBe(200);
    expect((await h.graph('POST', `/${OTHER_NUMBER_ID}`, { pin: '123456' }, NARROW_TOKEN)).json).toEqual({
      success: true,
    });
    const unknown = await h.graph('POST', '/399999999999999', { pin: '123456' });
    expect(unknown.status).toBe(400);
    expect(graphError(unknown.json)).toMatchObject({
      code: 100,
      error_subcode: 33,
      type: 'GraphMethodException',
    });
    // The refused PIN changes did not apply: register still accepts a different first PIN.
    expect((await register(h, '654321')).json).toEqual({ success: true });
  });
});

describe('GET /{waba-id}', () => {
  it('answers id, name and message_template_namespace (ref §7.1)', async () => {
    const h = await setUp();
    const r = await h.graph('GET', `/${WABA_ID}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      id: WABA_ID,
      name: expect.any(String),
      message_template_namespace: `ns_${WABA_ID}`,
    });
    expect((await h.graph('GET', `/${OTHER_WABA_ID}`, undefined, NARROW_TOKEN)).json.id).toBe(OTHER_WABA_ID);
  });

  it('answers an unknown id with code 100 subcode 33 GraphMethodException (ref §1.3)', async () => {
    const h = await setUp();
    const r = await h.graph('GET', '/299999999999999');
    expect(r.status).toBe(400);
    expect(graphError(r.json)).toMatchObject({
      code: 100,
      error_subcode: 33,
      type: 'GraphMethodException',
      message: expect.stringContaining("Object with ID '299999999999999' does not exist"),
      fbtrace_id: expect.any(String),
    });
  });

  it('answers 401 code 190 without a token and hides a WABA the token cannot reach as 100/33 (ref §1.2, §1.3, §12)', async () => {
    const h = await setUp();
    const anonymous = await h.graph('GET', `/${WABA_ID}`, undefined, null);
    expect(anonymous.status).toBe(401);
    expect(graphError(anonymous.json).code).toBe(190);
    const narrow = await h.graph('GET', `/${WABA_ID}`, undefined, NARROW_TOKEN);
    expect(narrow.status).toBe(400);
    expect(graphError(narrow.json)).toMatchObject({ code: 100, error_subcode: 33 });
  });
});

describe('PUT /_sandbox/faults delayMs', () => {
  it('holds a webhook for at least delayMs, then delivers it (ref §3.6, §12 fault injection)', async () => {
    const arrivals: number[] = [];
    const app = await startReceiver({
      fail: () => {
        arrivals.push(Date.now());
        return false;
      },
    });
    const h = await setUp(app.url);
    const delayMs = 150;
    expect((await h.control('PUT', '/faults', { delayMs })).json).toMatchObject({ delayMs });

    const triggeredAt = Date.now();
    expect((await inbound(h, 'delayed')).status).toBe(200);
    // Observed right away (well inside delayMs): recorded, held, not attempted, nothing posted.
    const held = await h.control('GET', '/webhooks');
    expect(held.json.deliveries).toEqual([expect.objectContaining({ state: 'queued', attempts: 0 })]);
    expect(held.json.idle).toBe(false);
    expect(app.posts()).toBe(0);

    await waitFor(() => app.received.length === 1, { what: 'delayed delivery' });
    expect(arrivals).toHaveLength(1);
    expect((arrivals[0] ?? 0) - triggeredAt).toBeGreaterThanOrEqual(delayMs);
    expect(app.received[0]?.signatureOk).toBe(true);
    expect(app.values()[0]?.messages).toEqual([expect.objectContaining({ text: { body: 'delayed' } })]);
    await waitFor(
      async () => {
        const w = await h.control('GET', '/webhooks');
        return w.json.idle === true;
      },
      { what: 'engine idle' },
    );
    const after = await h.control('GET', '/webhooks');
    expect(after.json.deliveries).toEqual([expect.objectContaining({ state: 'delivered', attempts: 1 })]);
  });
});

describe('POST /{phone-number-id}/messages by uploaded media id (ref §2.4, §10)', () => {
  async function upload(h: Harness, mime: string, bytes: Buffer): Promise<string> {
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('type', mime);
    form.set('file', new Blob([bytes], { type: mime }), 'f.bin');
    const r = await fetch(`${h.url}/v23.0/${NUMBER_ID}/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    expect(r.status).toBe(200);
    return String(((await r.json()) as { id: string }).id);
  }

  it.each([
    ['image', 'image/jpeg', { caption: 'a photo' }],
    ['audio', 'audio/ogg', {}],
    ['video', 'video/mp4', { caption: 'a clip' }],
    ['sticker', 'image/webp', {}],
  ])('sends %s by id with the §2.2 success shape (ref §2.2, §2.4)', async (type, mime, extra) => {
    const h = await setUp();
    await inbound(h);
    const id = await upload(h, mime, Buffer.from(`${type} bytes`));
    const r = await h.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type,
      [type]: { id, ...extra },
    });
    expect(r.status).toBe(200);
    expect(r.json.messaging_product).toBe('whatsapp');
    expect(r.json.contacts).toEqual([{ input: CUSTOMER, wa_id: CUSTOMER }]);
    const messages = r.json.messages as Array<{ id: string; message_status?: string }>;
    expect(messages).toHaveLength(1);
    expect(messages[0]?.id).toMatch(/^wamid\.[A-Za-z0-9+/=]+$/);
    expect(messages[0]?.message_status).toBeUndefined();
    const unknown = await h.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type,
      [type]: { id: '999999999999999' },
    });
    expect(unknown.status).toBe(400);
  });
});
