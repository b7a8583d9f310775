import { createHmac } from 'node:crypto';
import type { StatusObject } from '@wapi/contracts';
import { metaJsonEncode, useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  APP_SECRET,
  baseSeed,
  CUSTOMER,
  closeAfterEachTest,
  graphError,
  type Harness,
  manualClock,
  NARROW_TOKEN,
  NUMBER_ID,
  startReceiver,
  startSandbox,
  TOKEN,
  WABA_ID,
} from './harness';

// What outside Cloud API clients trip over (issue 7): Meta's webhook encoding and batching,
// and Graph request quirks. Sections cited are those of docs/meta-platform.md.

const ctx = useTestContext('sbxquirks');
closeAfterEachTest();

async function setUp(env: Record<string, string> = {}) {
  const receiver = await startReceiver();
  const sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: baseSeed(receiver.url), env });
  return { sbx, receiver };
}

const inbound = (h: Harness, text: string, name?: string) =>
  h.control('POST', '/inbound', {
    phoneNumberId: NUMBER_ID,
    from: CUSTOMER,
    ...(name ? { name } : {}),
    messages: [{ kind: 'text', text }],
  });

/** A raw Graph call: any path, method, headers and body, as an outside client sends them. */
async function raw(
  h: Harness,
  method: string,
  path: string,
  init: { body?: string | FormData; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${h.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const TEXT = 'Olá, café à noite 😀 — a/b';
const NAME = 'José Ñandú';

describe('webhook body encoding (§3.2)', () => {
  it('escapes non-ASCII as \\uXXXX (emoji as surrogate pairs) and / as \\/, and signs exactly the bytes sent', async () => {
    const { sbx, receiver } = await setUp();
    expect((await inbound(sbx, TEXT, NAME)).status).toBe(200);
    await waitFor(() => receiver.received.length === 1, { what: 'the inbound webhook' });
    const [post] = receiver.received;
    if (!post) throw new Error('no POST');
    // Pure ASCII on the wire, with Meta's escapes.
    expect(post.raw).toMatch(/^[\x20-\x7e]*$/);
    expect(post.raw).toContain('Ol\\u00e1, caf\\u00e9 \\u00e0 noite \\ud83d\\ude00 \\u2014 a\\/b');
    expect(post.raw).toContain('"name":"Jos\\u00e9 \\u00d1and\\u00fa"');
    expect(post.raw).toBe(metaJsonEncode(post.body));
    // The HMAC over the received bytes verifies…
    expect(post.signatureOk).toBe(true);
    // …and one over a re-serialisation of the parsed body does not (as against Meta).
    const reencoded = `sha256=${createHmac('sha256', APP_SECRET).update(JSON.stringify(post.body)).digest('hex')}`;
    const sent = await sbx.control('GET', '/webhooks?limit=1');
    const signature = (sent.json.deliveries as Array<{ signature: string }>)[0]?.signature;
    expect(signature).toBe(`sha256=${createHmac('sha256', APP_SECRET).update(post.raw).digest('hex')}`);
    expect(reencoded).not.toBe(signature);
    // The parsed text is the user's text.
    const value = post.body.entry[0]?.changes[0]?.value as { messages: Array<{ text: { body: string } }> };
    expect(value.messages[0]?.text.body).toBe(TEXT);
  });

  it('sends raw UTF-8 when SANDBOX_WEBHOOK_ENCODING=utf8, still signed over the bytes sent', async () => {
    const { sbx, receiver } = await setUp({ SANDBOX_WEBHOOK_ENCODING: 'utf8' });
    await inbound(sbx, TEXT, NAME);
    await waitFor(() => receiver.received.length === 1, { what: 'the inbound webhook' });
    const post = receiver.received[0];
    expect(post?.raw).toContain(TEXT);
    expect(post?.raw).toContain(NAME);
    expect(post?.signatureOk).toBe(true);
  });

  it('refuses an unknown encoding at start-up', async () => {
    await expect(
      startSandbox({ redisUrl: ctx.infra.redisUrl, env: { SANDBOX_WEBHOOK_ENCODING: 'latin1' } }),
    ).rejects.toThrow(/SANDBOX_WEBHOOK_ENCODING/);
  });
});

describe('webhook batching (§3.6)', () => {
  it('puts several statuses of one number in one value and each change in its own entry, so a first-item reader misses updates', async () => {
    const { sbx, receiver } = await setUp({ SANDBOX_WEBHOOK_BATCH_WINDOW_MS: '300' });
    await inbound(sbx, 'hi');
    await waitFor(() => receiver.received.length === 1, { what: 'the inbound webhook' });
    const sends = await Promise.all(
      [1, 2, 3].map((i) =>
        sbx.graph('POST', `/${NUMBER_ID}/messages`, {
          messaging_product: 'whatsapp',
          to: CUSTOMER,
          text: { body: `reply ${i}` },
        }),
      ),
    );
    const wamids = sends.map((s) => (s.json.messages as Array<{ id: string }>)[0]?.id ?? '');
    expect(wamids.every((id) => id.startsWith('wamid.'))).toBe(true);
    await waitFor(() => receiver.statuses().length === 9, {
      what: 'sent, delivered and read of three sends',
    });
    const statuses = receiver.statuses() as StatusObject[];
    for (const id of wamids)
      expect(
        statuses
          .filter((s) => s.id === id)
          .map((s) => s.status)
          .sort(),
      ).toEqual(['delivered', 'read', 'sent']);
    // At least one value carried several statuses.
    const values = receiver.values();
    expect(
      Math.max(...values.map((v) => (v.statuses as unknown[] | undefined)?.length ?? 0)),
    ).toBeGreaterThan(1);
    for (const post of receiver.received)
      for (const entry of post.body.entry) {
        expect(entry.id).toBe(WABA_ID);
        expect(entry.changes).toHaveLength(1);
      }
    // A receiver that reads only entry[0].changes[0].value.statuses[0] sees fewer than all nine.
    const firstOnly = receiver.received.filter(
      (p) => (p.body.entry[0]?.changes[0]?.value.statuses as unknown[] | undefined)?.[0] !== undefined,
    ).length;
    expect(firstOnly).toBeLessThan(9);
  });
});

describe('Graph request quirks (§1.4)', () => {
  it('takes POST parameters from the query string: messaging_product of a media upload and of a send', async () => {
    const { sbx, receiver } = await setUp();
    const form = new FormData();
    form.set('file', new Blob([Buffer.from('jpeg bytes')], { type: 'image/jpeg' }), 'a.jpg');
    form.set('type', 'image/jpeg');
    const upload = await raw(sbx, 'POST', `/v23.0/${NUMBER_ID}/media?messaging_product=whatsapp`, {
      body: form,
    });
    expect(upload.status).toBe(200);
    expect(upload.json.id).toMatch(/^\d+$/);
    const without = new FormData();
    without.set('file', new Blob([Buffer.from('x')], { type: 'image/jpeg' }), 'a.jpg');
    const refused = await raw(sbx, 'POST', `/v23.0/${NUMBER_ID}/media`, { body: without });
    expect(refused.status).toBe(400);
    expect(graphError(refused.json).code).toBe(100);

    await inbound(sbx, 'hi');
    const send = await raw(
      sbx,
      'POST',
      `/v23.0/${NUMBER_ID}/messages?messaging_product=whatsapp&to=${CUSTOMER}`,
      {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'image', image: { id: upload.json.id } }),
      },
    );
    expect(send.status).toBe(200);
    expect(send.json.contacts).toEqual([{ input: CUSTOMER, wa_id: CUSTOMER }]);
    const wamid = (send.json.messages as Array<{ id: string }>)[0]?.id;
    await waitFor(() => receiver.statuses().some((s) => s.id === wamid && s.status === 'read'), {
      what: 'statuses of the query-string send',
    });
  });

  it('answers a call without a version segment as the default version (v24+ shapes)', async () => {
    const { sbx, receiver } = await setUp();
    await inbound(sbx, 'hi');
    const send = await raw(sbx, 'POST', `/${NUMBER_ID}/messages`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messaging_product: 'whatsapp', to: CUSTOMER, text: { body: 'no version' } }),
    });
    expect(send.status).toBe(200);
    const wamid = (send.json.messages as Array<{ id: string }>)[0]?.id;
    await waitFor(() => receiver.statuses().some((s) => s.id === wamid && s.status === 'sent'), {
      what: 'sent',
    });
    const sent = (receiver.statuses() as StatusObject[]).find((s) => s.id === wamid && s.status === 'sent');
    // §3.5: from v24 `conversation` is left out outside free-entry-point windows.
    expect(sent?.pricing).toMatchObject({ category: 'service', type: 'free_customer_service' });
    expect(sent?.conversation).toBeUndefined();
    // §1.1 / §8.5: the number node at the default version has no `messaging_limit_tier`.
    const node = await raw(
      sbx,
      'GET',
      `/${NUMBER_ID}?fields=messaging_limit_tier,whatsapp_business_manager_messaging_limit`,
    );
    expect(node).toEqual({
      status: 200,
      json: { id: NUMBER_ID, whatsapp_business_manager_messaging_limit: 'TIER_2K' },
    });
    const versioned = await raw(sbx, 'GET', `/v23.0/${NUMBER_ID}?fields=messaging_limit_tier`);
    expect(versioned.json).toEqual({ id: NUMBER_ID, messaging_limit_tier: 'TIER_2K' });
    // Version-less calls authenticate like any other.
    const anonymous = await fetch(`${sbx.url}/${NUMBER_ID}`);
    expect(anonymous.status).toBe(401);
    // Paths that are not Graph's stay wapi's.
    expect((await fetch(`${sbx.url}/favicon.ico`)).status).toBe(404);
    const control = await sbx.control('GET', '/no-such-thing');
    expect(control.status).toBe(404);
    expect(control.json).toMatchObject({ error: { code: 'ROUTE_NOT_FOUND' } });
  });

  it('refuses a version Graph never released with 2500, and upgrades an expired one to the oldest live version', async () => {
    const clock = manualClock(Date.UTC(2026, 10, 1));
    const sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    for (const version of ['v99.0', 'v23.1']) {
      const r = await raw(sbx, 'GET', `/${version}/${NUMBER_ID}`);
      expect(r.status).toBe(400);
      expect(graphError(r.json)).toMatchObject({
        code: 2500,
        type: 'OAuthException',
        message: `Unknown path components: /${version}/${NUMBER_ID}`,
      });
    }
    // v19.0 ended 2026-05-21: answered as v21.0, still before v24 (`messaging_limit_tier` kept).
    const old = await raw(sbx, 'GET', `/v19.0/${NUMBER_ID}?fields=messaging_limit_tier`);
    expect(old).toEqual({ status: 200, json: { id: NUMBER_ID, messaging_limit_tier: 'TIER_2K' } });
  });

  it('takes an empty body sent with a JSON content type as no parameters (media DELETE, subscribed_apps POST)', async () => {
    const { sbx } = await setUp();
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('file', new Blob([Buffer.from('pdf')], { type: 'application/pdf' }), 'a.pdf');
    const upload = await raw(sbx, 'POST', `/v23.0/${NUMBER_ID}/media`, { body: form });
    const json = { 'content-type': 'application/json' };
    const deleted = await raw(sbx, 'DELETE', `/v23.0/${String(upload.json.id)}`, { headers: json, body: '' });
    expect(deleted).toEqual({ status: 200, json: { success: true } });
    expect((await raw(sbx, 'GET', `/v23.0/${String(upload.json.id)}`)).status).toBe(400);
    const subscribed = await raw(sbx, 'POST', `/v23.0/${WABA_ID}/subscribed_apps`, { headers: json });
    expect(subscribed).toEqual({ status: 200, json: { success: true } });
    const broken = await raw(sbx, 'POST', `/v23.0/${WABA_ID}/subscribed_apps`, {
      headers: json,
      body: '{"a":',
    });
    expect(broken.status).toBe(400);
    expect(graphError(broken.json).code).toBe(100);
  });

  it('answers an expired token with 190/463 and Graph’s session-expired text, without error_data', async () => {
    const clock = manualClock();
    const sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    const token = await sbx.control('POST', '/tokens', { appId: '100000000000001', expiresInMs: 1_000 });
    clock.advance(2_000);
    const r = await sbx.graph('GET', `/${NUMBER_ID}`, undefined, String(token.json.value));
    expect(r.status).toBe(401);
    expect(graphError(r.json)).toEqual({
      message:
        'Error validating access token: Session has expired on Thursday, 01-Jan-26 00:00:01 UTC. The current time is Thursday, 01-Jan-26 00:00:02 UTC.',
      type: 'OAuthException',
      code: 190,
      error_subcode: 463,
      fbtrace_id: expect.any(String),
    });
  });
});

describe('business profile and fields= (§7.1, §8.6)', () => {
  it('reads and updates the business profile, honouring fields=', async () => {
    const { sbx } = await setUp();
    const empty = await sbx.graph('GET', `/${NUMBER_ID}/whatsapp_business_profile`);
    expect(empty).toEqual({ status: 200, json: { data: [{ messaging_product: 'whatsapp' }] } });
    const update = await sbx.graph('POST', `/${NUMBER_ID}/whatsapp_business_profile`, {
      messaging_product: 'whatsapp',
      about: 'Plants & more',
      description: 'Lucky Shrub — plants delivered',
      email: 'hello@luckyshrub.example',
      websites: ['https://luckyshrub.example'],
      vertical: 'RETAIL',
    });
    expect(update).toEqual({ status: 200, json: { success: true } });
    const some = await sbx.graph(
      'GET',
      `/${NUMBER_ID}/whatsapp_business_profile?fields=about,websites,vertical`,
    );
    expect(some.json).toEqual({
      data: [
        {
          messaging_product: 'whatsapp',
          about: 'Plants & more',
          websites: ['https://luckyshrub.example'],
          vertical: 'RETAIL',
        },
      ],
    });
    const unknown = await sbx.graph('GET', `/${NUMBER_ID}/whatsapp_business_profile?fields=about,colour`);
    expect(unknown.status).toBe(400);
    expect(graphError(unknown.json).error_data?.details).toMatch(/colour/);
  });

  it('refuses a bad profile update without changing anything, and callers without the number', async () => {
    const { sbx } = await setUp();
    for (const body of [
      { about: 'no product' },
      { messaging_product: 'whatsapp', vertical: 'SPACESHIPS' },
      { messaging_product: 'whatsapp', websites: ['a', 'b', 'c'] },
      { messaging_product: 'whatsapp', about: 'x'.repeat(140) },
      { messaging_product: 'whatsapp', email: 'not-an-email', about: 'ok' },
    ]) {
      const r = await sbx.graph('POST', `/${NUMBER_ID}/whatsapp_business_profile`, body);
      expect(r.status).toBe(400);
      expect(graphError(r.json).code).toBe(100);
    }
    const after = await sbx.graph('GET', `/${NUMBER_ID}/whatsapp_business_profile`);
    expect(after.json).toEqual({ data: [{ messaging_product: 'whatsapp' }] });
    const narrow = await sbx.graph('GET', `/${NUMBER_ID}/whatsapp_business_profile`, undefined, NARROW_TOKEN);
    expect(narrow.status).toBe(403);
    expect(graphError(narrow.json).code).toBe(200);
    expect((await sbx.graph('GET', `/${NUMBER_ID}/whatsapp_business_profile`, undefined, null)).status).toBe(
      401,
    );
  });

  it('narrows template lookups and listings to the fields asked for (plus id)', async () => {
    const { sbx } = await setUp();
    const list = await sbx.graph('GET', `/${WABA_ID}/message_templates?fields=name,status&limit=2`);
    const data = list.json.data as Array<Record<string, unknown>>;
    expect(data).toHaveLength(2);
    for (const t of data) expect(Object.keys(t).sort()).toEqual(['id', 'name', 'status']);
    const one = await sbx.graph('GET', `/${String(data[0]?.id)}?fields=status`);
    expect(one.json).toEqual({ id: data[0]?.id, status: 'APPROVED' });
    const full = await sbx.graph('GET', `/${String(data[0]?.id)}`);
    expect(full.json).toMatchObject({ id: data[0]?.id, name: data[0]?.name, components: expect.any(Array) });
    const waba = await sbx.graph('GET', `/${WABA_ID}?fields=message_template_namespace`);
    expect(waba.json).toEqual({ id: WABA_ID, message_template_namespace: `ns_${WABA_ID}` });
  });
});
