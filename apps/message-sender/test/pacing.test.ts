import { markSuppressionReady } from '@wapi/consent';
import { type DirectoryEntry, directoryKey, sendPriorityOf, windowKey } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendingOf } from '../src/app';
import { SERVICE } from '../src/config';
import { countOf } from '../src/metrics';
import { fileTokenSource } from '../src/tokens';
import { type queues, receivedCounts, startSender, templateSend, tokenFile, WS } from './helpers';

// What the gateway's directory says about each number drives the sender's pacing here:
// throughput levels, the portfolio and its messaging limit. The sandbox (Meta) allows a
// quarter more than the directory says, so that it judges our pacing, not the machine's
// scheduling (see send.test.ts).
const ctx = useTestContext(SERVICE);
const LEVEL = '300000000000011'; // throughput follows the directory
const PORTFOLIO = '300000000000012'; // a portfolio with a tiny messaging limit
const CAMPAIGN = '300000000000013'; // a marketing campaign and a utility message
const WABA = '200000000000001';
const world = sandboxFixture({
  phoneNumberId: '300000000000010',
  morePhoneNumbers: [
    { id: LEVEL, display: '15550783811', verifiedName: 'Level', throughputMps: 75 },
    { id: PORTFOLIO, display: '15550783812', verifiedName: 'Portfolio', throughputMps: 80 },
    { id: CAMPAIGN, display: '15550783813', verifiedName: 'Campaign', throughputMps: 13 },
  ],
  moreTemplates: [
    {
      name: 'spring_sale',
      language: 'en_US',
      category: 'MARKETING',
      components: [{ type: 'BODY', text: 'Sale!' }],
    },
    {
      name: 'login_code',
      language: 'en_US',
      category: 'AUTHENTICATION',
      components: [{ type: 'BODY', text: 'Your code.' }],
    },
  ],
});

let sandbox: MetaSandbox;
let app: ServiceApp;
let close: () => Promise<void>;
let q: ReturnType<typeof queues>;
/** The sender's clock runs this far ahead of the wall clock (the messaging limit's 24 h). */
let clockOffset = 0;

async function directory(entry: Omit<DirectoryEntry, 'workspaceId' | 'wabaId'>) {
  await ctx.redis.set(
    directoryKey(ctx.prefix, entry.phoneNumberId),
    JSON.stringify({ workspaceId: WS, wabaId: WABA, ...entry }),
  );
}

beforeAll(async () => {
  sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed: world.seed });
  await markSuppressionReady(ctx.redis, ctx.prefix);
  ({ app, q, close } = await startSender(ctx, {
    graphUrl: sandbox.baseUrl,
    tokens: fileTokenSource(tokenFile(world.accessToken)),
    env: {
      SENDER_DIRECTORY_CACHE_MS: '200',
      // Longer than the 24 h window, so a utility template waits for a free place
      // (authentication keeps its own 10-minute bound).
      SENDER_MESSAGING_LIMIT_MAX_WAIT_MS: String(25 * 3600_000),
    },
    now: () => Date.now() + clockOffset,
  }));
}, 60_000);

afterAll(async () => {
  // The campaign's backlog is not waited for.
  await q?.send.queue.obliterate({ force: true });
  await close?.();
  await sandbox?.stop();
});

const metrics = () => {
  const sending = sendingOf(app);
  if (!sending) throw new Error('the app was built without its send worker');
  return sending.metrics;
};

/** Seconds from `started` until the sandbox had received every one of `ids`. */
async function secondsUntilReceived(ids: string[], started: number, timeoutMs = 20_000): Promise<number> {
  const received = await waitFor(
    async () => {
      const all = await receivedCounts(sandbox);
      return ids.every((id) => all.has(id)) ? all : false;
    },
    { timeoutMs, intervalMs: 100, what: `${ids.length} messages to reach the sandbox` },
  );
  const last = Math.max(...ids.map((id) => received.get(id)?.[0]?.at ?? 0));
  return (last - started) / 1000;
}

describe('pacing from the directory', () => {
  it("follows a number's throughput level as gateway syncs it", async () => {
    /**
     * The mean spacing (ms) of the slots the sender reserved for `ids` (each job keeps its
     * slot in its progress; the first of a batch goes at once, without one). Read from the
     * sender's schedule, not from the sandbox's arrival times, which a busy machine bunches.
     */
    const spacing = async (ids: string[]) => {
      const slots: number[] = [];
      for (const id of ids) {
        const slot = ((await q.send.queue.getJob(`${WS}~${id}`))?.progress as { slot?: number }).slot;
        if (slot !== undefined) slots.push(slot);
      }
      slots.sort((x, y) => x - y);
      expect(slots.length).toBeGreaterThan(ids.length / 2);
      return ((slots.at(-1) as number) - (slots[0] as number)) / (slots.length - 1);
    };
    await directory({ phoneNumberId: LEVEL, throughputMps: 20 });
    const slow = Array.from({ length: 60 }, (_, i) =>
      templateSend(LEVEL, `1555710${String(i).padStart(4, '0')}`),
    );
    await q.enqueue(slow);
    await q.waitForEvents(slow.map((m) => m.messageId));
    // 20/s x 0.95 = 19/s: one slot every 52.6 ms.
    expect(await spacing(slow.map((m) => m.messageId))).toBeGreaterThanOrEqual(52);

    // Gateway records the number's upgrade; once the sender's short cache has expired (its
    // clock moves past the cache time) the pace follows.
    await directory({ phoneNumberId: LEVEL, throughputMps: 60 });
    clockOffset += 1_000;
    const fast = Array.from({ length: 60 }, (_, i) =>
      templateSend(LEVEL, `1555711${String(i).padStart(4, '0')}`),
    );
    await q.enqueue(fast);
    await q.waitForEvents(fast.map((m) => m.messageId));
    // 60/s x 0.95 = 57/s: one slot every 17.5 ms.
    const fastSpacing = await spacing(fast.map((m) => m.messageId));
    expect(fastSpacing).toBeGreaterThanOrEqual(17);
    expect(fastSpacing).toBeLessThan(20);
    expect(await countOf(metrics(), 'rate_limited', 130429)).toBe(0);
    clockOffset = 0;
  }, 30_000);
});

describe('the portfolio messaging limit', () => {
  it('lets a new recipient beyond the limit wait for a free place, never blocks a counted one, and counts only business-initiated sends', async () => {
    await directory({ phoneNumberId: PORTFOLIO, businessId: '900000000000001', messagingLimit: 3 });
    const inWindow = '15557200009';
    const until = Date.now() + 24 * 3600_000;
    await ctx.redis.set(windowKey(ctx.prefix, PORTFOLIO, inWindow), String(until), 'PXAT', until);
    const first = ['15557200001', '15557200002', '15557200003'].map((to) => templateSend(PORTFOLIO, to));
    await q.enqueue(first);
    await q.waitForEvents(first.map((m) => m.messageId));

    const fourth = templateSend(PORTFOLIO, '15557200004');
    const otp = templateSend(PORTFOLIO, '15557200005', { category: 'authentication' }, 'login_code');
    const again = templateSend(PORTFOLIO, '15557200001');
    // Inside the customer's window: not business-initiated, not counted (a text and a template).
    const text = templateSend(PORTFOLIO, inWindow, {
      category: 'service',
      content: { type: 'text', text: { body: 'hi' } },
    });
    const windowTemplate = templateSend(PORTFOLIO, inWindow);
    await q.enqueue([fourth, otp, again, text, windowTemplate]);
    const events = await q.waitForEvents([otp, again, text, windowTemplate].map((m) => m.messageId));
    expect(events.get(again.messageId)?.[0]?.status).toBe('sent');
    expect(events.get(text.messageId)?.[0]?.status).toBe('sent');
    expect(events.get(windowTemplate.messageId)?.[0]?.status).toBe('sent');
    // Authentication waits at most 10 minutes; the first place frees in 24 h: failed at once.
    expect(events.get(otp.messageId)?.[0]).toMatchObject({
      status: 'failed',
      error: { code: 0, wapiCode: 'MESSAGING_LIMIT_REACHED' },
    });
    const otpJob = await q.send.queue.getJob(`${WS}~${otp.messageId}`);
    expect(otpJob?.failedReason).toMatch(/^MESSAGING_LIMIT_REACHED/);

    // The fourth new recipient waits, delayed until the oldest leaves the 24 h window.
    const job = await q.send.queue.getJob(`${WS}~${fourth.messageId}`);
    await waitFor(async () => (await job?.getState()) === 'delayed', {
      what: 'the fourth recipient to wait',
    });
    const waiting = await q.send.queue.getJob(`${WS}~${fourth.messageId}`);
    expect((waiting?.timestamp ?? 0) + (waiting?.delay ?? 0)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    const received = await receivedCounts(sandbox, PORTFOLIO);
    expect(received.has(fourth.messageId)).toBe(false);
    expect(received.has(otp.messageId)).toBe(false);

    // A day later the first recipients have left the window: it goes.
    clockOffset = 24 * 3600_000 + 60_000;
    await waiting?.promote();
    const later = await q.waitForEvents([fourth.messageId]);
    expect(later.get(fourth.messageId)?.[0]?.status).toBe('sent');
    expect((await receivedCounts(sandbox, PORTFOLIO)).get(fourth.messageId)).toHaveLength(1);
    clockOffset = 0;
  });
});

describe('the messaging limit of a number whose portfolio gateway does not know yet', () => {
  it('counts unique recipients per WABA instead of not limiting at all', async () => {
    const number = world.phoneNumberId;
    await directory({ phoneNumberId: number, messagingLimit: 1 });
    const first = templateSend(number, '15557400001');
    await q.enqueue([first]);
    expect((await q.waitForEvents([first.messageId])).get(first.messageId)?.[0]?.status).toBe('sent');
    const otp = templateSend(number, '15557400002', { category: 'authentication' }, 'login_code');
    await q.enqueue([otp]);
    expect((await q.waitForEvents([otp.messageId])).get(otp.messageId)?.[0]).toMatchObject({
      status: 'failed',
      error: { wapiCode: 'MESSAGING_LIMIT_REACHED' },
    });
  });
});

describe('priorities', () => {
  it('sends a utility message enqueued behind 5,000 marketing messages within its reserved share', async () => {
    // 10 msg/s: marketing may use 80 % of 9.5/s (the safety share); the rest stays free.
    await directory({ phoneNumberId: CAMPAIGN, throughputMps: 10 });
    const campaign = Array.from({ length: 5_000 }, (_, i) =>
      templateSend(
        CAMPAIGN,
        `1555730${String(i).padStart(5, '0')}`,
        { category: 'marketing' },
        'spring_sale',
      ),
    );
    for (let i = 0; i < campaign.length; i += 1_000)
      await q.send.queue.addBulk(
        campaign.slice(i, i + 1_000).map((m) => ({
          name: 'message.send.v1',
          data: m,
          opts: { jobId: `${m.workspaceId}~${m.messageId}`, priority: sendPriorityOf(m) }, // 3, as gateway sets it
        })),
      );
    // The campaign is under way.
    await waitFor(async () => (await receivedCounts(sandbox, CAMPAIGN)).size >= 5, {
      timeoutMs: 20_000,
      what: 'the campaign to start',
    });
    const utility = templateSend(CAMPAIGN, '15557399999');
    const started = Date.now();
    await q.send.queue.add('message.send.v1', utility, {
      jobId: `${utility.workspaceId}~${utility.messageId}`,
      priority: sendPriorityOf(utility),
    });
    const seconds = await secondsUntilReceived([utility.messageId], started);
    // Behind the campaign it would wait 5,000 / 7.6 = 658 s; its share lets it go within the
    // marketing horizon (1 s) and a slot — ~1 s on a quiet machine. The bound leaves room for
    // a loaded CI machine and still fails by two orders of magnitude without the share.
    expect(seconds).toBeLessThan(10);
    // Meanwhile marketing kept to its share of the number: at most 80 % of 9.5/s (plus one).
    const marketing = (await sandbox.control.sentMessages({ phoneNumberId: CAMPAIGN })).filter(
      (m) => m.type === 'template' && (m.payload.template as { name?: string }).name === 'spring_sale',
    );
    const times = marketing.map((m) => m.at).sort((a, b) => a - b);
    const span = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    expect(times.length - 1).toBeLessThanOrEqual(Math.ceil(span * 9.5 * 0.8) + 1);
    expect(await countOf(metrics(), 'rate_limited')).toBe(0);

    // The backlog shows on /metrics: delayed jobs (holding their places in the marketing lane).
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    const delayed = res.body.split('\n').find((l) => l.startsWith('sender_queue_depth{state="delayed"'));
    expect(Number(delayed?.split(' ').at(-1))).toBeGreaterThan(1_000);
  }, 60_000);
});
