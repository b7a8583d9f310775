import { AppError } from '@wapi/contracts';
import { describe, expect, it } from 'vitest';
import { receiveInbound } from './inbound-intake';
import type { WebhookSink } from './ports';
import { applySeed } from './seed';
import { createWorld, entryPointAt, inServiceWindow } from './world';

// What a simulated customer message does to the world (§3.4, §5.1, §6), without HTTP: a
// recording sink stands in for the delivery engine (the domain's port).

function setUp() {
  const world = createWorld();
  applySeed(
    world,
    {
      apps: [{ id: '1', secret: 'app-secret-1' }],
      wabas: [{ id: '2', subscribedApps: ['1'], phoneNumbers: [{ id: '3', display: '15550001111' }] }],
    },
    0,
    { throughputMps: 3 },
  );
  const sent: Array<{ field: string; value: Record<string, unknown> }> = [];
  const webhooks: WebhookSink = {
    toNumber: (_n, field, value) => sent.push({ field, value }),
    toWaba: (_w, field, value) => sent.push({ field, value }),
  };
  const now = 1_700_000_000_000;
  return { world, sent, deps: { world, clock: { now: () => now }, webhooks }, now };
}

describe('receiveInbound (§3.4, §5.1, §6)', () => {
  it('opens the service window, records the message and sends one messages webhook per message', () => {
    const { world, sent, deps, now } = setUp();
    expect(inServiceWindow(world, '3', '16505551234', now)).toBe(false);
    const { ids } = receiveInbound(
      deps,
      {
        phoneNumberId: '3',
        from: '16505551234',
        name: 'Ana',
        messages: [
          { kind: 'text', text: 'hola' },
          { kind: 'image', data: Buffer.from('png').toString('base64') },
        ],
      },
      'http://sandbox.test',
    );
    expect(ids).toHaveLength(2);
    expect(inServiceWindow(world, '3', '16505551234', now)).toBe(true);
    expect([...world.inbound.keys()]).toEqual(ids);
    expect(sent.map((s) => s.field)).toEqual(['messages', 'messages']);
    const image = (sent[1]?.value.messages as Array<{ image: { url: string; id: string } }>)[0]?.image;
    // §10: the media is stored for download, its link on the sandbox's public base.
    expect(image?.url.startsWith('http://sandbox.test/whatsapp_business/attachments/')).toBe(true);
    expect(world.media.get(image?.id ?? '')?.bytes.toString()).toBe('png');
    expect(sent[0]?.value.contacts).toEqual([{ profile: { name: 'Ana' }, wa_id: '16505551234' }]);
  });

  it('counts inbound toward the number’s throughput without refusing it (§5.1)', () => {
    const { world, deps, now } = setUp();
    receiveInbound(
      deps,
      { phoneNumberId: '3', from: '16505551234', messages: Array(4).fill({ kind: 'text', text: 'x' }) },
      'http://sandbox.test',
    );
    expect(world.inbound.size).toBe(4);
    // The 3/s quota went to the inbound messages: an outbound send now would be refused.
    expect(world.numbers.get('3')?.limiter.tryTake(now)).toBe(false);
  });

  it('makes a Click-to-WhatsApp message the start of a free entry point (§6)', () => {
    const { world, deps, now } = setUp();
    receiveInbound(
      deps,
      {
        phoneNumberId: '3',
        from: '16505551234',
        messages: [{ kind: 'text', text: 'from the ad', referral: { source_type: 'ad', ctwa_clid: 'c1' } }],
      },
      'http://sandbox.test',
    );
    expect(entryPointAt(world, '3', '16505551234', now)).toBe('opening');
  });

  it('refuses an unknown number with a message saying how to create it', () => {
    const { deps } = setUp();
    const call = () =>
      receiveInbound(deps, { phoneNumberId: '9', from: '16505551234', messages: [{ kind: 'text' }] }, 'x');
    expect(call).toThrow(AppError);
    expect(call).toThrow(/POST \/_sandbox\/phone-numbers/);
  });
});
