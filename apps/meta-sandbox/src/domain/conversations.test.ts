import { describe, expect, it } from 'vitest';
import { conversationsView, summarise } from './conversations';
import { createWorld, type OutboundMessage, type PhoneNumber } from './world';

describe('summarise', () => {
  it('renders each message type as one line', () => {
    expect(summarise({ type: 'text', text: { body: 'hi' } })).toBe('hi');
    expect(summarise({ type: 'template', template: { name: 'order_update' } })).toBe('template order_update');
    expect(summarise({ type: 'image', image: { caption: 'receipt' } })).toBe('[image] receipt');
    expect(summarise({ type: 'document', document: { filename: 'invoice.pdf' } })).toBe(
      '[document] invoice.pdf',
    );
    expect(summarise({ type: 'interactive', interactive: { button_reply: { id: 'y', title: 'Yes' } } })).toBe(
      'Yes',
    );
    expect(summarise({ type: 'interactive', interactive: { body: { text: 'Pick one' } } })).toBe('Pick one');
    expect(summarise({ type: 'button', button: { text: 'Stop promotions' } })).toBe('Stop promotions');
    expect(summarise({ type: 'location', location: { latitude: 1.5, longitude: 2 } })).toBe('📍 1.5, 2');
    expect(summarise({ type: 'reaction', reaction: { emoji: '👍' } })).toBe('reacted 👍');
    expect(summarise({ type: 'order' })).toBe('[order]');
  });
});

describe('conversationsView', () => {
  it('orders bubbles by time and shows the furthest status, a failure winning', () => {
    const world = createWorld();
    world.numbers.set('pn1', { id: 'pn1', display: '15550001111', verifiedName: 'Acme' } as PhoneNumber);
    const out = (wamid: string, at: number, statuses: OutboundMessage['statuses']) =>
      world.outbound.set(wamid, {
        wamid,
        phoneNumberId: 'pn1',
        to: '919800000001',
        type: 'text',
        payload: { text: { body: wamid } },
        at,
        version: 23,
        statuses,
        awaitingDevice: false,
      });
    out('w2', 30, [
      { status: 'sent', at: 31 },
      { status: 'read', at: 33 },
      { status: 'delivered', at: 34 },
    ]);
    out('w3', 40, [
      { status: 'sent', at: 41 },
      { status: 'failed', at: 42, errorCode: 131026 },
    ]);
    world.inbound.set('w1', {
      wamid: 'w1',
      phoneNumberId: 'pn1',
      from: '919800000001',
      type: 'text',
      message: { type: 'text', text: { body: 'hello' } },
      at: 10,
      readByBusiness: true,
    });

    const [number] = conversationsView(world);
    expect(number?.conversations).toHaveLength(1);
    expect(
      number?.conversations[0]?.bubbles.map((b) => [b.direction, b.text, b.status, b.errorCode]),
    ).toEqual([
      ['in', 'hello', undefined, undefined],
      ['out', 'w2', 'read', undefined],
      ['out', 'w3', 'failed', 131026],
    ]);
  });
});
