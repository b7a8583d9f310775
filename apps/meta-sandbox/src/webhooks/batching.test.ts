import { describe, expect, it } from 'vitest';
import { batchEnvelope, type PendingChange } from './batching';

const metadata = (id: string) => ({ display_phone_number: `1555${id}`, phone_number_id: id });
const status = (wabaId: string, numberId: string, id: string, name = 'sent'): PendingChange => ({
  wabaId,
  field: 'messages',
  at: 1_700_000_000_000,
  value: { messaging_product: 'whatsapp', metadata: metadata(numberId), statuses: [{ id, status: name }] },
});
const message = (numberId: string, from: string, id: string): PendingChange => ({
  wabaId: 'W1',
  field: 'messages',
  at: 1_700_000_000_000,
  value: {
    messaging_product: 'whatsapp',
    metadata: metadata(numberId),
    contacts: [{ profile: { name: from }, wa_id: from }],
    messages: [{ from, id }],
  },
});

describe('batchEnvelope (docs/meta-platform.md §3.6)', () => {
  it('merges statuses of one number into one value and messages of one number into another', () => {
    const body = batchEnvelope([
      status('W1', 'N1', 'a'),
      message('N1', '111', 'm1'),
      status('W1', 'N1', 'b', 'delivered'),
      message('N1', '222', 'm2'),
      message('N1', '111', 'm3'),
    ]);
    expect(body.object).toBe('whatsapp_business_account');
    expect(body.entry).toHaveLength(2);
    expect(body.entry.map((e) => e.id)).toEqual(['W1', 'W1']);
    expect(body.entry[0]?.changes[0]?.value.statuses).toEqual([
      { id: 'a', status: 'sent' },
      { id: 'b', status: 'delivered' },
    ]);
    const messages = body.entry[1]?.changes[0]?.value;
    expect(messages?.messages).toEqual([
      { from: '111', id: 'm1' },
      { from: '222', id: 'm2' },
      { from: '111', id: 'm3' },
    ]);
    expect(messages?.contacts).toEqual([
      { profile: { name: '111' }, wa_id: '111' },
      { profile: { name: '222' }, wa_id: '222' },
    ]);
  });

  it('keeps numbers and accounts apart, sets time only on non-messages fields, and leaves the queued values untouched', () => {
    const first = status('W1', 'N1', 'a');
    const template: PendingChange = {
      wabaId: 'W1',
      field: 'message_template_status_update',
      at: 1_700_000_000_999,
      value: { event: 'APPROVED' },
    };
    const errors: PendingChange = {
      wabaId: 'W1',
      field: 'messages',
      at: 0,
      value: {
        messaging_product: 'whatsapp',
        metadata: metadata('N1'),
        errors: [{ code: 131000 }],
        statuses: [],
      },
    };
    const body = batchEnvelope([
      first,
      status('W1', 'N2', 'b'),
      status('W2', 'N3', 'c'),
      template,
      errors,
      status('W1', 'N1', 'd'),
    ]);
    expect(body.entry.map((e) => [e.id, e.changes[0]?.field, e.time])).toEqual([
      ['W1', 'messages', undefined],
      ['W1', 'messages', undefined],
      ['W2', 'messages', undefined],
      ['W1', 'message_template_status_update', 1_700_000_000],
      ['W1', 'messages', undefined],
    ]);
    expect(body.entry[0]?.changes[0]?.value.statuses).toHaveLength(2);
    expect(first.value.statuses).toEqual([{ id: 'a', status: 'sent' }]);
    for (const entry of body.entry) expect('time' in entry).toBe(entry.changes[0]?.field !== 'messages');
  });
});
