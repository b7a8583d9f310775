import { Kind, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { type MessageSendV1, QUEUE_NAMES, QUEUES } from '../src/index';

/**
 * Every place in `schema` where a value could be open or unbounded, as `path: reason`.
 * Rules: objects are closed (`additionalProperties: false`); a pattern-keyed map is allowed
 * only closed, with `maxProperties` and checked values; strings carry `maxLength` unless
 * they are constants; arrays carry `maxItems`; no Unknown/Any or schema without a type.
 */
function openings(schema: TSchema, path = '$'): string[] {
  const found: string[] = [];
  const kind = (schema as { [Kind]?: string })[Kind];
  if (kind === 'Unknown' || kind === 'Any') return [`${path}: ${kind} accepts anything`];
  if (schema.anyOf || schema.oneOf || schema.allOf) {
    const members: TSchema[] = schema.anyOf ?? schema.oneOf ?? schema.allOf;
    members.forEach((member, i) => {
      found.push(...openings(member, `${path}|${i}`));
    });
    return found;
  }
  if (schema.const !== undefined || schema.enum !== undefined) return found;
  switch (schema.type) {
    case 'object': {
      if (schema.additionalProperties !== false)
        found.push(`${path}: object without additionalProperties: false`);
      for (const [key, value] of Object.entries<TSchema>(schema.properties ?? {})) {
        found.push(...openings(value, `${path}.${key}`));
      }
      if (schema.patternProperties) {
        if (typeof schema.maxProperties !== 'number') found.push(`${path}: map without maxProperties`);
        for (const [pattern, value] of Object.entries<TSchema>(schema.patternProperties)) {
          if (!/^\^.*\{\d+,\d+\}\$$/.test(pattern))
            found.push(`${path}: map key pattern ${pattern} is unbounded`);
          found.push(...openings(value, `${path}[${pattern}]`));
        }
      }
      return found;
    }
    case 'array':
      if (typeof schema.maxItems !== 'number') found.push(`${path}: array without maxItems`);
      found.push(...openings(schema.items, `${path}[]`));
      return found;
    case 'string':
      if (typeof schema.maxLength !== 'number') found.push(`${path}: string without maxLength`);
      return found;
    case 'number':
    case 'integer':
    case 'boolean':
    case 'null':
      return found;
    default:
      return [`${path}: no type (${JSON.stringify(schema).slice(0, 80)})`];
  }
}

describe('queue payload schemas', () => {
  it('are closed and bounded at every depth, for every registered queue', () => {
    const report = QUEUE_NAMES.flatMap((name) => openings(QUEUES[name].payload, name));
    expect(report).toEqual([]);
  });

  it('the walker finds the open shapes it exists to catch', async () => {
    // A test that cannot fail is a defect: prove each rule fires on a bad schema.
    const { Type } = await import('@sinclair/typebox');
    expect(openings(Type.Object({ a: Type.String({ maxLength: 1 }) }))).toEqual([
      '$: object without additionalProperties: false',
    ]);
    expect(openings(Type.Record(Type.String(), Type.Unknown()))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/additionalProperties/),
        expect.stringMatching(/Unknown/),
      ]),
    );
    expect(openings(Type.Array(Type.Integer()))).toEqual(['$: array without maxItems']);
    expect(openings(Type.Union([Type.Literal('a'), Type.String()]))).toEqual([
      '$|1: string without maxLength',
    ]);
    expect(openings(Type.Any())).toEqual(['$: Any accepts anything']);
  });
});

const send = (content: unknown) => ({
  workspaceId: 'ws_1',
  messageId: 'msg_1',
  phoneNumberId: '106540352242922',
  to: '919876543210',
  category: 'utility',
  content,
  acceptedAt: '2026-11-25T10:00:00.000Z',
});
const valid = (content: unknown) => Value.Check(QUEUES['message.send.v1'].payload, send(content));

describe('message.send.v1 content', () => {
  // Reference §2.7, verbatim apart from ids.
  const template = {
    type: 'template',
    template: {
      name: 'reservation_confirmation',
      language: 'en_US',
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { id: '2871834006348767' } }] },
        {
          type: 'body',
          parameters: [
            { type: 'text', parameter_name: 'number_of_guests', text: '4' },
            { type: 'currency', currency: { fallback_value: '$10', code: 'USD', amount_1000: 10_000 } },
            { type: 'date_time', date_time: { fallback_value: 'Saturday' } },
          ],
        },
        {
          type: 'button',
          sub_type: 'quick_reply',
          index: '0',
          parameters: [{ type: 'payload', payload: 'cancel-123' }],
        },
        { type: 'button', sub_type: 'url', index: 1, parameters: [{ type: 'text', text: 'suffix' }] },
        {
          type: 'button',
          sub_type: 'copy_code',
          index: 2,
          parameters: [{ type: 'coupon_code', coupon_code: 'SAVE10' }],
        },
      ],
    },
  } satisfies MessageSendV1['content'];

  it("accepts Meta's template, button, list, cta_url, flow and location-request shapes", () => {
    expect(valid(template)).toBe(true);
    const button = {
      type: 'button',
      header: { type: 'text', text: 'Order 42' },
      body: { text: 'Confirm?' },
      footer: { text: 'wapi' },
      action: { buttons: [{ type: 'reply', reply: { id: 'yes', title: 'Yes' } }] },
    };
    const list = {
      type: 'list',
      body: { text: 'Pick one' },
      action: {
        button: 'Options',
        sections: [{ title: 'A', rows: [{ id: 'r1', title: 'One', description: 'first' }] }],
      },
    };
    const cta = {
      type: 'cta_url',
      body: { text: 'See it' },
      action: { name: 'cta_url', parameters: { display_text: 'Open', url: 'https://example.com/o/42' } },
    };
    const flow = {
      type: 'flow',
      body: { text: 'Book' },
      action: {
        name: 'flow',
        parameters: {
          flow_message_version: '3',
          flow_id: '123',
          flow_cta: 'Book now',
          flow_action: 'navigate',
        },
      },
    };
    const locationRequest = {
      type: 'location_request_message',
      body: { text: 'Where are you?' },
      action: { name: 'send_location' },
    };
    for (const interactive of [button, list, cta, flow, locationRequest]) {
      expect(valid({ type: 'interactive', interactive }), interactive.type).toBe(true);
    }
  });

  it('refuses an extra field at any depth, so no token can ride along', () => {
    const parameter = { type: 'payload', payload: 'x', access_token: 'EAAG...' };
    const withToken = structuredClone(template);
    (withToken.template.components[2] as { parameters: unknown[] }).parameters = [parameter];
    expect(valid(withToken)).toBe(false);
    expect(
      valid({
        type: 'interactive',
        interactive: {
          type: 'location_request_message',
          body: { text: 'x' },
          action: { name: 'send_location', token: 'EAAG' },
        },
      }),
    ).toBe(false);
    expect(valid({ type: 'text', text: { body: 'hi', token: 'EAAG' } })).toBe(false);
  });

  it('refuses oversize values and unknown component or interactive types', () => {
    expect(valid({ type: 'text', text: { body: 'x'.repeat(4_097) } })).toBe(false);
    const fourButtons = Array.from({ length: 4 }, (_, i) => ({
      type: 'reply',
      reply: { id: `b${i}`, title: 'B' },
    }));
    expect(
      valid({
        type: 'interactive',
        interactive: { type: 'button', body: { text: 'x' }, action: { buttons: fourButtons } },
      }),
    ).toBe(false);
    expect(
      valid({ type: 'template', template: { name: 'x', language: 'en', components: [{ type: 'footer' }] } }),
    ).toBe(false);
    expect(valid({ type: 'interactive', interactive: { type: 'product', action: {} } })).toBe(false);
  });

  it('takes template media by id or by link, never both', () => {
    const header = (image: unknown) => ({
      type: 'template',
      template: {
        name: 't',
        language: 'en',
        components: [{ type: 'header', parameters: [{ type: 'image', image }] }],
      },
    });
    expect(valid(header({ id: '1' }))).toBe(true);
    expect(valid(header({ link: 'https://example.com/a.png' }))).toBe(true);
    expect(valid(header({ id: '1', link: 'https://example.com/a.png' }))).toBe(false);
  });
});

describe('message.inbound.v1 and audit.v1', () => {
  const inbound = {
    workspaceId: 'ws_1',
    phoneNumberId: '1065',
    from: '919876543210',
    wamid: 'wamid.HBgL',
    receivedAt: '2026-11-25T10:00:00.000Z',
    journalId: 'j1',
    content: {
      type: 'interactive',
      interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } },
    },
    context: { from: '15550783881', id: 'wamid.PARENT' },
  };

  it('carries the known inbound message fields and nothing else', () => {
    const check = (payload: unknown) => Value.Check(QUEUES['message.inbound.v1'].payload, payload);
    expect(check(inbound)).toBe(true);
    expect(check({ ...inbound, content: { type: 'text', text: { body: 'STOP' } } })).toBe(true);
    expect(
      check({ ...inbound, content: { type: 'text', text: { body: 'hi', extra: { token: 'x' } } } }),
    ).toBe(false);
    expect(check({ ...inbound, context: { ...inbound.context, raw: {} } })).toBe(false);
  });

  it('keeps audit data to a bounded map of scalars', () => {
    const audit = {
      workspaceId: 'ws_1',
      actor: { type: 'user', id: 'u1' },
      action: 'template.create',
      target: { type: 'template', id: 't1' },
      at: '2026-11-25T10:00:00.000Z',
      data: { name: 'order_shipped', attempt: 2, approved: false, note: null },
    };
    const check = (payload: unknown) => Value.Check(QUEUES['audit.v1'].payload, payload);
    expect(check(audit)).toBe(true);
    expect(check({ ...audit, data: { nested: { token: 'x' } } })).toBe(false);
    expect(check({ ...audit, data: { 'bad key': 'x' } })).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    expect(check({ ...audit, data: many })).toBe(false);
  });
});
