import type { MessageSendV1 } from '@wapi/contracts';
import { createProducer } from '@wapi/service-kit';
import { useTestContext } from '@wapi/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE } from '../src/config';
import { createParking } from '../src/park';
import { templateSend, WS } from './helpers';

// The park script on a real Redis and a real BullMQ queue (no worker): what it moves, in
// which order, with which slots, and what it leaves where it was.
const ctx = useTestContext(SERVICE);
const log = pino({ level: 'silent' });
let send: ReturnType<typeof createProducer<'message.send.v1'>>;
let parking: ReturnType<typeof createParking>;
const T0 = Date.now() + 60_000;

beforeAll(() => {
  send = createProducer('message.send.v1', { connection: ctx.redis, prefix: ctx.prefix, log });
  parking = createParking(ctx.redis, () => ({
    wait: send.queue.toKey('wait'),
    prioritized: send.queue.toKey('prioritized'),
    delayed: send.queue.toKey('delayed'),
    marker: send.queue.toKey('marker'),
    jobPrefix: send.queue.toKey(''),
  }));
});

afterAll(async () => {
  await send?.close();
});

const jobId = (m: MessageSendV1) => `${WS}~${m.messageId}`;

describe('parking a backlog', () => {
  it("moves one number's waiting jobs of one lane to the delayed set with consecutive slots in queue order, and leaves every other job where it was", async () => {
    const BUSY = '350000000000001';
    const OTHER = '350000000000002';
    const messages: Array<{ m: MessageSendV1; priority?: number }> = [];
    for (let i = 0; i < 6; i += 1) {
      messages.push({ m: templateSend(BUSY, `1555800000${i}`) });
      messages.push({ m: templateSend(OTHER, `1555810000${i}`) });
    }
    // Marketing of the busy number (its own lane), with the gateway's priority.
    const marketing = templateSend(BUSY, '15558200001', { category: 'marketing' }, 'spring_sale');
    messages.push({ m: marketing, priority: 3 });
    // Utility of the busy number with a priority: in the priority set, parked after the wait list.
    const prioritizedUtility = templateSend(BUSY, '15558300001');
    messages.push({ m: prioritizedUtility, priority: 2 });
    // A nested object spelling the busy number does not make another number's job match.
    const nested = templateSend(OTHER, '15558400001', {
      content: {
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: 'x' },
          action: { buttons: [{ type: 'reply', reply: { id: 'phoneNumberId', title: BUSY } }] },
          phoneNumberId: BUSY,
        } as never,
      },
    });
    messages.push({ m: nested });
    for (const { m, priority } of messages)
      await send.queue.add('message.send.v1', m, { jobId: jobId(m), ...(priority ? { priority } : {}) });

    const now0 = Date.now();
    const parked = await parking.park({
      phoneNumberId: BUSY,
      lane: 'other',
      firstSlot: T0,
      intervalMs: 12.5,
      earlyMs: 0,
      now: now0,
    });
    expect(parked).toBe(7);

    const busyUtility = [
      ...messages.filter((x) => x.m.phoneNumberId === BUSY && !x.priority).map((x) => x.m),
      prioritizedUtility,
    ];
    for (const [k, m] of busyUtility.entries()) {
      const job = await send.queue.getJob(jobId(m));
      expect(await job?.getState()).toBe('delayed');
      expect(job?.progress).toEqual({ slot: T0 + k * 12.5, parked: 1 });
      expect(job?.delay).toBe(Math.floor(T0 + k * 12.5) - now0);
    }
    // The delayed set wakes them in their queue order.
    const delayed = await send.queue.getDelayed();
    const order = delayed.map((j) => j.id);
    expect(order.filter((id) => busyUtility.some((m) => jobId(m) === id))).toEqual(busyUtility.map(jobId));

    // The other number's jobs are still waiting, in their order; the busy number's marketing
    // job (another lane) is still in the priority set.
    const waiting = (await send.queue.getWaiting()).map((j) => j.id);
    expect(waiting).toEqual([...messages.filter((x) => x.m.phoneNumberId === OTHER).map((x) => jobId(x.m))]);
    expect(await (await send.queue.getJob(jobId(marketing)))?.getState()).toBe('prioritized');

    // Its own lane: the marketing job, with a ticket, waking a horizon before it.
    const parkedMarketing = await parking.park({
      phoneNumberId: BUSY,
      lane: 'marketing',
      firstSlot: T0,
      intervalMs: 20,
      earlyMs: 1_000,
      now: Date.now(),
    });
    expect(parkedMarketing).toBe(1);
    const m = await send.queue.getJob(jobId(marketing));
    expect(await m?.getState()).toBe('delayed');
    expect(m?.progress).toEqual({ ticket: T0, parked: 1 });
    expect(await send.queue.getPrioritizedCount()).toBe(0);

    // At most one park per number and lane per quarter second in a process.
    const again = templateSend(BUSY, '15558000099');
    await send.queue.add('message.send.v1', again, { jobId: jobId(again) });
    expect(
      await parking.park({
        phoneNumberId: BUSY,
        lane: 'other',
        firstSlot: T0,
        intervalMs: 12.5,
        earlyMs: 0,
        now: now0 + 100,
      }),
    ).toBe(0);
    expect(await (await send.queue.getJob(jobId(again)))?.getState()).toBe('waiting');
  });
});
