import { createHmac } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  InboundMessage,
  MessagesChangeValue,
  StatusObject,
  TemplateStatusUpdateValue,
  UserPreferencesValue,
  WebhookEnvelope,
} from '@wapi/contracts';
import { describe, expect, it } from 'vitest';
import {
  inboundTextMessage,
  messagesChange,
  messagesValue,
  metaJsonEncode,
  signedWebhook,
  signWebhook,
  statusUpdate,
  templateStatusUpdate,
  userPreferences,
  webhookChange,
  webhookEnvelope,
  webhookError,
} from '../src/meta-webhooks';

/** Asserts `value` validates against `schema`, printing TypeBox's first errors when not. */
function expectValid(schema: TSchema, value: unknown) {
  const errors = [...Value.Errors(schema, value)].slice(0, 3).map((e) => `${e.path}: ${e.message}`);
  expect(errors).toEqual([]);
  expect(Value.Check(schema, value)).toBe(true);
}

describe('Meta webhook builders validate against the contracts schemas', () => {
  it('inboundTextMessage: defaults, and a reply with a referral', () => {
    const plain = inboundTextMessage({ from: '+16505551234', text: 'Hi' });
    expectValid(InboundMessage, plain);
    expect(plain).toMatchObject({ from: '16505551234', type: 'text', text: { body: 'Hi' } });
    expect(plain.id).toMatch(/^wamid\./);
    const reply = inboundTextMessage({
      from: '16505551234',
      text: 'Yes',
      id: 'wamid.in1',
      timestamp: 1_750_000_000,
      replyTo: { id: 'wamid.out1' },
      referral: { source_type: 'ad', source_id: '1', ctwa_clid: 'x' },
    });
    expectValid(InboundMessage, reply);
    expect(reply).toMatchObject({
      id: 'wamid.in1',
      timestamp: '1750000000',
      context: { from: '15550783881', id: 'wamid.out1' },
      referral: { source_type: 'ad' },
    });
  });

  it('statusUpdate: every status; failed always carries errors, given or generic', () => {
    for (const status of ['sent', 'delivered', 'read', 'played'] as const) {
      const s = statusUpdate({ wamid: 'wamid.a', status });
      expectValid(StatusObject, s);
      expect(s.errors).toBeUndefined();
    }
    const generic = statusUpdate({ wamid: 'wamid.a', status: 'failed' });
    expectValid(StatusObject, generic);
    expect(generic.errors?.[0]?.code).toBe(131000);
    const reengagement = statusUpdate({
      wamid: 'wamid.b',
      status: 'failed',
      recipientId: '+447700900123',
      error: { code: 131047, title: 'Re-engagement message', details: 'More than 24 hours have passed' },
    });
    expectValid(StatusObject, reengagement);
    expect(reengagement).toMatchObject({
      recipient_id: '447700900123',
      errors: [
        {
          code: 131047,
          title: 'Re-engagement message',
          message: 'Re-engagement message',
          error_data: { details: 'More than 24 hours have passed' },
        },
      ],
    });
    const priced = statusUpdate({
      wamid: 'wamid.c',
      status: 'sent',
      timestamp: 1_750_000_001,
      bizOpaqueCallbackData: 'order-7',
      pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' },
      conversation: { id: 'c1', expiration_timestamp: '1750086401', origin: { type: 'marketing' } },
      errors: [webhookError({ code: 131049, title: 'x', href: '/documentation' })],
    });
    expectValid(StatusObject, priced);
    expect(priced).toMatchObject({ timestamp: '1750000001', biz_opaque_callback_data: 'order-7' });
  });

  it('messagesValue: contacts for inbound senders, none for statuses', () => {
    const inbound = messagesValue({
      phoneNumberId: '300000000000001',
      messages: [
        inboundTextMessage({ from: '16505551234', text: 'a' }),
        inboundTextMessage({ from: '16505551234', text: 'b' }),
      ],
      profileName: 'Ana',
    });
    expectValid(MessagesChangeValue, inbound);
    expect(inbound.contacts).toEqual([{ profile: { name: 'Ana' }, wa_id: '16505551234' }]);
    const statuses = messagesValue({
      phoneNumberId: '300000000000001',
      displayPhoneNumber: '15550000000',
      statuses: [statusUpdate({ wamid: 'wamid.a', status: 'read' })],
    });
    expectValid(MessagesChangeValue, statuses);
    expect(statuses.contacts).toBeUndefined();
    expect(statuses.metadata.display_phone_number).toBe('15550000000');
  });

  it('userPreferences: stop and resume', () => {
    for (const value of ['stop', 'resume'] as const) {
      const prefs = userPreferences({ phoneNumberId: '3001', waId: '+16505551234', value, timestamp: 1 });
      expectValid(UserPreferencesValue, prefs);
      expect(prefs.user_preferences[0]).toMatchObject({ wa_id: '16505551234', value, timestamp: 1 });
    }
  });

  it('templateStatusUpdate: numeric id from a string, reasons, pause info', () => {
    const approved = templateStatusUpdate({ templateId: '123456', name: 'hello', event: 'APPROVED' });
    expectValid(TemplateStatusUpdateValue, approved);
    expect(approved).toMatchObject({ message_template_id: 123456, reason: 'NONE' });
    const paused = templateStatusUpdate({
      templateId: 7,
      name: 'promo',
      event: 'PAUSED',
      reason: null,
      category: 'MARKETING',
      language: 'pt_BR',
      otherInfo: { title: 'FIRST_PAUSE', description: 'low quality' },
    });
    expectValid(TemplateStatusUpdateValue, paused);
    expect(paused.reason).toBeNull();
    expect(() => templateStatusUpdate({ templateId: 'abc', name: 'x', event: 'APPROVED' })).toThrow(
      /templateId must be an integer id/,
    );
  });

  it('webhookEnvelope: time only when a change is not `messages`, overridable', () => {
    const messagesOnly = webhookEnvelope({
      wabaId: '200000000000001',
      changes: [
        messagesChange({ phoneNumberId: '3001', statuses: [statusUpdate({ wamid: 'w', status: 'sent' })] }),
      ],
    });
    expectValid(WebhookEnvelope, messagesOnly);
    expect(messagesOnly.entry[0]?.time).toBeUndefined();
    const mixed = webhookEnvelope({
      wabaId: '200000000000001',
      changes: [
        webhookChange(
          'user_preferences',
          userPreferences({ phoneNumberId: '3001', waId: '1650', value: 'stop' }),
        ),
        webhookChange(
          'message_template_status_update',
          templateStatusUpdate({ templateId: 1, name: 'a', event: 'APPROVED' }),
        ),
      ],
    });
    expectValid(WebhookEnvelope, mixed);
    expect(mixed.entry[0]?.time).toEqual(expect.any(Number));
    expect(webhookEnvelope({ wabaId: '2', changes: [], time: 5 }).entry[0]?.time).toBe(5);
    expect(
      webhookEnvelope({ wabaId: '2', changes: [webhookChange('x', {})], time: null }).entry[0],
    ).not.toHaveProperty('time');
  });
});

describe('metaJsonEncode', () => {
  it('escapes non-ASCII as lowercase \\uXXXX (astral as surrogate pairs) and / as \\/', () => {
    const encoded = metaJsonEncode({ text: 'Olá 😀 a/b', n: 1 });
    expect(encoded).toBe('{"text":"Ol\\u00e1 \\ud83d\\ude00 a\\/b","n":1}');
    expect(JSON.parse(encoded)).toEqual({ text: 'Olá 😀 a/b', n: 1 });
  });

  it('is pure ASCII and round-trips every builder output', () => {
    const envelope = webhookEnvelope({
      wabaId: '2',
      changes: [
        messagesChange({
          phoneNumberId: '3',
          messages: [inboundTextMessage({ from: '1650', text: 'ß/€/𝄞' })],
        }),
      ],
    });
    const encoded = metaJsonEncode(envelope);
    expect(/^[\x20-\x7e]*$/.test(encoded)).toBe(true);
    expect(JSON.parse(encoded)).toEqual(envelope);
  });

  it('refuses a value without JSON form, saying so', () => {
    expect(() => metaJsonEncode(undefined)).toThrow(/no JSON form/);
  });
});

describe('signWebhook', () => {
  it('signs the exact bytes: sha256= + lowercase hex HMAC keyed with the app secret', () => {
    const body = metaJsonEncode({ text: 'é/' });
    const expected = createHmac('sha256', 'app-secret').update(Buffer.from(body, 'utf8')).digest('hex');
    expect(signWebhook(body, 'app-secret')).toBe(`sha256=${expected}`);
    expect(signWebhook(Buffer.from(body), 'app-secret')).toBe(`sha256=${expected}`);
    // The same value encoded the ordinary way is other bytes, so its signature differs.
    expect(signWebhook(JSON.stringify({ text: 'é/' }), 'app-secret')).not.toBe(`sha256=${expected}`);
  });

  it('signedWebhook gives the Meta-encoded body with matching headers', () => {
    const envelope = webhookEnvelope({ wabaId: '2', changes: [] });
    const request = signedWebhook(envelope, 's3cret-s3cret');
    expect(request.body).toBe(metaJsonEncode(envelope));
    expect(request.headers).toEqual({
      'content-type': 'application/json',
      'x-hub-signature-256': signWebhook(request.body, 's3cret-s3cret'),
    });
  });
});
