import { useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUSINESS_DISPLAY,
  CUSTOMER,
  graphError,
  type Harness,
  NARROW_TOKEN,
  NUMBER_ID,
  startSandbox,
  UNREGISTERED_ID,
} from './harness';

const ctx = useTestContext('sbxmsg');
let sbx: Harness;

const send = (body: Record<string, unknown>, token?: string | null) =>
  sbx.graph(
    'POST',
    `/${NUMBER_ID}/messages`,
    { messaging_product: 'whatsapp', to: CUSTOMER, ...body },
    token,
  );

beforeAll(async () => {
  sbx = await startSandbox({
    redisUrl: ctx.infra.redisUrl,
    env: { SANDBOX_THROUGHPUT_MPS: '1000', SANDBOX_PAIR_BURST: '1000' },
  });
  // Opens the 24 h window for CUSTOMER (§6).
  const inbound = await sbx.control('POST', '/inbound', {
    phoneNumberId: NUMBER_ID,
    from: CUSTOMER,
    messages: [{ kind: 'text', text: 'hi' }],
  });
  expect(inbound.status).toBe(200);
});
afterAll(async () => sbx?.close());

describe('POST /{phone-number-id}/messages — success shapes', () => {
  it('answers a text send with messaging_product, contacts[{input, wa_id}] and a wamid (ref §2.2, §2.3)', async () => {
    const { status, json } = await send({
      type: 'text',
      text: { body: 'Hello https://x.y', preview_url: true },
    });
    expect(status).toBe(200);
    expect(json.messaging_product).toBe('whatsapp');
    expect(json.contacts).toEqual([{ input: CUSTOMER, wa_id: CUSTOMER }]);
    const [message] = json.messages as Array<{ id: string; message_status?: string }>;
    expect(message?.id).toMatch(/^wamid\.[A-Za-z0-9+/=]+$/);
    expect(message?.id.length).toBeLessThanOrEqual(128);
    expect(message?.message_status).toBeUndefined();
  });

  it('normalises the recipient: strips + - ( ) and spaces, keeps the raw input (ref §2.1, §12)', async () => {
    const { json } = await send({ to: '+1 (650) 555-1234', text: { body: 'x' } });
    expect(json.contacts).toEqual([{ input: '+1 (650) 555-1234', wa_id: CUSTOMER }]);
  });

  it("prefixes the business number's calling code when there is no + (ref §2.1)", async () => {
    const { json } = await send({
      to: '(650) 555-1234',
      type: 'template',
      template: { name: 'spring_sale', language: { code: 'en_US' } },
    });
    expect((json.contacts as Array<{ wa_id: string }>)[0]?.wa_id).toBe('16505551234');
  });

  it('adds message_status "accepted" for templates with positional params and URL button (ref §2.2, §2.7)', async () => {
    const { status, json } = await send({
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_US' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Ana' },
              { type: 'text', text: '#42' },
            ],
          },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'abc' }] },
        ],
      },
    });
    expect(status).toBe(200);
    expect((json.messages as Array<{ message_status: string }>)[0]?.message_status).toBe('accepted');
  });

  it('accepts named params in any order with an image header and quick-reply payload (ref §2.7)', async () => {
    const { status } = await send({
      type: 'template',
      template: {
        name: 'reservation_confirmation',
        language: { code: 'en_US' },
        components: [
          { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/a.jpg' } }] },
          {
            type: 'body',
            parameters: [
              { type: 'text', parameter_name: 'day', text: 'Saturday' },
              { type: 'text', parameter_name: 'number_of_guests', text: '4' },
            ],
          },
          {
            type: 'button',
            sub_type: 'quick_reply',
            index: 0,
            parameters: [{ type: 'payload', payload: 'cancel-1' }],
          },
        ],
      },
    });
    expect(status).toBe(200);
  });

  it.each([
    ['image', { link: 'https://example.com/a.jpg', caption: 'c' }],
    ['document', { link: 'https://example.com/f.pdf', filename: 'f.pdf' }],
    ['audio', { link: 'https://example.com/a.ogg' }],
    ['video', { link: 'https://example.com/v.mp4', caption: 'v' }],
    ['sticker', { link: 'https://example.com/s.webp' }],
  ])('sends %s by link (ref §2.4)', async (type, media) => {
    const { status } = await send({ type, [type]: media });
    expect(status).toBe(200);
  });

  it('sends interactive reply buttons and lists, location, contacts, reaction and context replies (ref §2.5, §2.6, §2.8, §2.9)', async () => {
    const first = await send({ text: { body: 'quote me' } });
    const wamid = (first.json.messages as Array<{ id: string }>)[0]?.id ?? '';
    const bodies = [
      {
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: 'Pick' },
          action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] },
        },
      },
      {
        type: 'interactive',
        interactive: {
          type: 'list',
          header: { type: 'text', text: 'H' },
          body: { text: 'B' },
          action: {
            button: 'Open',
            sections: [{ title: 'S', rows: [{ id: 'r1', title: 'Row', description: 'd' }] }],
          },
        },
      },
      { type: 'location', location: { latitude: 37.48, longitude: -122.14, name: 'HQ' } },
      { type: 'contacts', contacts: [{ name: { formatted_name: 'Jane Doe' } }] },
      { type: 'reaction', reaction: { message_id: wamid, emoji: '👍' } },
      { type: 'text', text: { body: 'reply' }, context: { message_id: wamid } },
    ];
    for (const body of bodies) expect((await send(body)).status).toBe(200);
  });

  it('marks an inbound message read, with and without a typing indicator (ref §2.10)', async () => {
    const inbound = await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [
        { kind: 'text', text: 'a' },
        { kind: 'text', text: 'b' },
      ],
    });
    const [earlier, later] = inbound.json.ids as string[];
    const read = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: later,
    });
    expect(read).toEqual({ status: 200, json: { success: true } });
    const typing = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: later,
      typing_indicator: { type: 'text' },
    });
    expect(typing.json).toEqual({ success: true });
    // Marking one message read marks the earlier ones too.
    const list = await sbx.control('GET', `/inbound?phoneNumberId=${NUMBER_ID}`);
    const byId = new Map(
      (list.json.messages as Array<{ wamid: string; readByBusiness: boolean }>).map((m) => [m.wamid, m]),
    );
    expect(byId.get(earlier ?? '')?.readByBusiness).toBe(true);
  });
});

describe('POST /{phone-number-id}/messages — errors', () => {
  it('answers 401 code 190 for a missing, unknown or revoked token, via header or access_token query (ref §1.2, §12)', async () => {
    // §1.3: 190 comes from Graph's OAuth layer: plain message, no `(#190)`, no error_data.
    for (const [token, message] of [
      [null, 'An active access token must be used to query information about this resource.'],
      ['EAAnope', 'Invalid OAuth access token - Cannot parse access token'],
    ] as const) {
      const { status, json } = await send({ text: { body: 'x' } }, token);
      expect(status).toBe(401);
      const error = graphError(json);
      expect(error).toEqual({
        message,
        type: 'OAuthException',
        code: 190,
        fbtrace_id: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
      });
    }
    const viaQuery = await fetch(
      `${sbx.url}/v21.0/${NUMBER_ID}/messages?access_token=EAAtestsystemtoken0001`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messaging_product: 'whatsapp', to: CUSTOMER, text: { body: 'q' } }),
      },
    );
    expect(viaQuery.status).toBe(200);
    const token = await sbx.control('POST', '/tokens', { appId: '100000000000001' });
    await sbx.control('POST', `/tokens/${String(token.json.value)}/revoke`);
    const revoked = await send({ text: { body: 'x' } }, String(token.json.value));
    expect(revoked.status).toBe(401);
    expect(graphError(revoked.json)).toMatchObject({
      code: 190,
      error_subcode: 460,
      message: expect.stringMatching(/^Error validating access token: The session has been invalidated/),
    });
    expect(graphError(revoked.json).error_data).toBeUndefined();
  });

  it('answers 403 code 200 when the token cannot reach the number (ref §1.2, §12)', async () => {
    const { status, json } = await send({ text: { body: 'x' } }, NARROW_TOKEN);
    expect(status).toBe(403);
    expect(graphError(json).code).toBe(200);
  });

  it('gives every error a fresh fbtrace_id and error_data.details (ref §1.3)', async () => {
    const a = graphError((await send({ messaging_product: 'sms', text: { body: 'x' } })).json);
    const b = graphError((await send({ messaging_product: 'sms', text: { body: 'x' } })).json);
    expect(a.code).toBe(100);
    expect(a.error_data?.details).toMatch(/messaging_product/);
    expect(a.fbtrace_id).not.toBe(b.fbtrace_id);
  });

  it.each([
    ['100: malformed JSON', 'raw', 100, 400],
    ['100: unknown type', { type: 'fax', fax: {} }, 100, 400],
    ['100: text over 4,096 characters', { text: { body: 'x'.repeat(4_097) } }, 100, 400],
    [
      '100: reaction with context',
      {
        type: 'reaction',
        reaction: { message_id: 'wamid.x', emoji: 'x' },
        context: { message_id: 'wamid.y' },
      },
      100,
      400,
    ],
    ['131008: missing to', { to: undefined, text: { body: 'x' } }, 131008, 400],
    ['131008: missing text.body', { text: {} }, 131008, 400],
    ['131008: media without id or link', { type: 'image', image: { caption: 'c' } }, 131008, 400],
    [
      '131009: media with both id and link',
      { type: 'image', image: { id: '1', link: 'https://x.y/a.jpg' } },
      131009,
      400,
    ],
    [
      '131009: four reply buttons',
      {
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: 'b' },
          action: {
            buttons: [1, 2, 3, 4].map((n) => ({ type: 'reply', reply: { id: `${n}`, title: 't' } })),
          },
        },
      },
      131009,
      400,
    ],
    [
      '131009: 11 list rows',
      {
        type: 'interactive',
        interactive: {
          type: 'list',
          body: { text: 'b' },
          action: {
            button: 'o',
            sections: [{ rows: Array.from({ length: 11 }, (_, n) => ({ id: `${n}`, title: 't' })) }],
          },
        },
      },
      131009,
      400,
    ],
    ['131009: unknown media id', { type: 'image', image: { id: '999' } }, 131009, 400],
    ['131021: recipient is the sender', { to: `+${BUSINESS_DISPLAY}`, text: { body: 'x' } }, 131021, 400],
    [
      '132001: unknown template (HTTP 404)',
      { type: 'template', template: { name: 'nope', language: { code: 'en_US' } } },
      132001,
      404,
    ],
    [
      '132001: wrong language (HTTP 404)',
      { type: 'template', template: { name: 'spring_sale', language: { code: 'pt_BR' } } },
      132001,
      404,
    ],
    [
      '132000: parameter count',
      {
        type: 'template',
        template: {
          name: 'order_update',
          language: { code: 'en_US' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'a' }] }],
        },
      },
      132000,
      400,
    ],
    [
      '132012: named param on a positional template',
      {
        type: 'template',
        template: {
          name: 'order_update',
          language: { code: 'en_US' },
          components: [
            {
              type: 'body',
              parameters: [
                { type: 'text', text: 'a', parameter_name: 'x' },
                { type: 'text', text: 'b', parameter_name: 'y' },
              ],
            },
            { type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: 'z' }] },
          ],
        },
      },
      132012,
      400,
    ],
    [
      '132012: header media of the wrong format',
      {
        type: 'template',
        template: {
          name: 'reservation_confirmation',
          language: { code: 'en_US' },
          components: [
            { type: 'header', parameters: [{ type: 'video', video: { link: 'https://x.y/v.mp4' } }] },
            {
              type: 'body',
              parameters: [
                { type: 'text', parameter_name: 'day', text: 'a' },
                { type: 'text', parameter_name: 'number_of_guests', text: '1' },
              ],
            },
          ],
        },
      },
      132012,
      400,
    ],
  ])('answers %s (ref §4, §12)', async (_name, body, code, http) => {
    const response =
      body === 'raw'
        ? await fetch(`${sbx.url}/v23.0/${NUMBER_ID}/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer EAAtestsystemtoken0001' },
            body: '{"messaging_product":',
          }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }))
        : await send(body as Record<string, unknown>);
    expect(response.status).toBe(http);
    expect(graphError(response.json).code).toBe(code);
    expect(graphError(response.json).message).toMatch(new RegExp(`^\\(#${code}\\) `));
  });

  it('answers 133010 for a number that is not registered (ref §4, §8.4)', async () => {
    const { status, json } = await sbx.graph('POST', `/${UNREGISTERED_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      text: { body: 'x' },
    });
    expect(status).toBe(400);
    expect(graphError(json).code).toBe(133010);
  });

  it('answers 132015 for a paused and 132016 for a disabled template (ref §4, §7.4)', async () => {
    const list = await sbx.graph('GET', '/200000000000001/message_templates?name=spring_sale');
    const id = (list.json.data as Array<{ id: string }>)[0]?.id;
    const template = { type: 'template', template: { name: 'spring_sale', language: { code: 'en_US' } } };
    await sbx.control('POST', `/templates/${id}/status`, { status: 'PAUSED' });
    expect(graphError((await send(template)).json).code).toBe(132015);
    await sbx.control('POST', `/templates/${id}/status`, { status: 'DISABLED' });
    expect(graphError((await send(template)).json).code).toBe(132016);
    await sbx.control('POST', `/templates/${id}/status`, { status: 'APPROVED' });
    expect((await send(template)).status).toBe(200);
  });

  it('answers unknown ids and paths with Graph code 100 subcode 33 (ref §1.3)', async () => {
    const { status, json } = await sbx.graph('POST', '/123/messages', {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      text: { body: 'x' },
    });
    expect(status).toBe(400);
    expect(graphError(json)).toMatchObject({ code: 100, error_subcode: 33, type: 'GraphMethodException' });
    expect(graphError((await sbx.graph('GET', '/1/2/3/4')).json).code).toBe(100);
  });
});
