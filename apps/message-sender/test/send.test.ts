import { writeFileSync } from 'node:fs';
import { markSuppressionReady, publishSuppression } from '@wapi/consent';
import { windowKey } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import {
  type MetaSandbox,
  mintServiceToken,
  sandboxFixture,
  startMetaSandbox,
  testKeySet,
  useTestContext,
  waitFor,
} from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendingOf } from '../src/app';
import { SERVICE } from '../src/config';
import { countOf } from '../src/metrics';
import { fileTokenSource } from '../src/tokens';
import { type queues, receivedCounts, startSender, templateSend, tokenFile, WS } from './helpers';

// Scaled down to keep the suite fast (the bench runs the full sizes): the sender paces
// numbers at 40 msg/s and the pair rate to a burst of 5 then one per 600 ms.
const MPS = 40;
// The sandbox (standing in for Meta) counts sends when its event loop gets to them. On a CI
// machine running every suite at once it stalls for hundreds of milliseconds and then takes
// a queue of sends in one instant, which no pacer can prevent; its counter gets a quarter of
// slack so that these tests judge the sender's pacing, not the machine's scheduling. The
// bench (bench/message-sender.mjs) measures against the exact limit on a quiet machine.
const SANDBOX_MPS = Math.round(MPS * 1.25);
const PAIR_BURST = 5;
const PAIR_INTERVAL_MS = 600;

const ctx = useTestContext(SERVICE);
const A = '300000000000001';
const B = '300000000000002';
const world = sandboxFixture({
  throughputMps: SANDBOX_MPS,
  morePhoneNumbers: [
    { id: B, display: '15550783882', verifiedName: 'Lucky Shrub Two', throughputMps: SANDBOX_MPS },
  ],
  moreTemplates: [
    {
      name: 'spring_sale',
      language: 'en_US',
      category: 'MARKETING',
      components: [{ type: 'BODY', text: 'Sale!' }],
    },
  ],
});

let sandbox: MetaSandbox;
let app: ServiceApp;
let close: () => Promise<void>;
let q: ReturnType<typeof queues>;
let file: string;

beforeAll(async () => {
  sandbox = await startMetaSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed: world.seed,
    env: { SANDBOX_PAIR_BURST: String(PAIR_BURST), SANDBOX_PAIR_INTERVAL_MS: String(PAIR_INTERVAL_MS) },
  });
  await markSuppressionReady(ctx.redis, ctx.prefix);
  // The token source starts with a stale token cached; the file (vault, in production)
  // already holds the good one: the first send gets a 190 and must recover from it.
  file = tokenFile('EAAstaletoken00000000001');
  const tokens = fileTokenSource(file);
  writeFileSync(file, world.accessToken);
  ({ app, q, close } = await startSender(ctx, {
    graphUrl: sandbox.baseUrl,
    tokens,
    env: {
      META_ACCESS_TOKEN_FILE: file,
      SENDER_DEFAULT_MPS: String(MPS),
      SENDER_PAIR_BURST: String(PAIR_BURST),
      // 100 ms of headroom over the sandbox's interval, as the default has over Meta's 6 s.
      SENDER_PAIR_INTERVAL_MS: String(PAIR_INTERVAL_MS + 100),
    },
  }));
}, 60_000);

afterAll(async () => {
  await close?.();
  await sandbox?.stop();
});

const metrics = () => {
  const sending = sendingOf(app);
  if (!sending) throw new Error('the app was built without its send worker');
  return sending.metrics;
};

describe('sending', () => {
  it('calls Graph once per message (a 190 once more with a fresh token), emits `sent` with the wamid, and never resends a done message', async () => {
    const m = templateSend(A, '15551230001');
    await q.enqueue([m]);
    const events = await q.waitForEvents([m.messageId]);
    const [event] = events.get(m.messageId) ?? [];
    expect(event).toMatchObject({ status: 'sent', recipient: m.to, source: 'sender' });
    // The stale cached token got one 190, then a fresh read and one more call.
    expect(await countOf(metrics(), 'auth_retry', 190)).toBe(1);
    expect(await countOf(metrics(), 'failed', 190)).toBe(0);
    const received = (await receivedCounts(sandbox)).get(m.messageId) ?? [];
    expect(received).toHaveLength(1);
    expect(event?.wamid).toBe(received[0]?.wamid);

    // The same message again under another job id (a replay, a duplicate enqueue).
    const again = await q.send.queue.add('message.send.v1', m, {
      jobId: `${m.workspaceId}~${m.messageId}~again`,
    });
    await waitFor(async () => (await again.getState()) === 'completed', {
      what: 'the duplicate job to complete',
    });
    expect((await receivedCounts(sandbox)).get(m.messageId)).toHaveLength(1);
  });

  it('re-checks consent and the window just before sending, refusing with the gateway codes without calling Meta', async () => {
    await publishSuppression(ctx.redis, ctx.prefix, WS, [
      { contact: '15551230002', flags: { all: false, marketing: true }, version: Date.now() },
      { contact: '15551230003', flags: { all: true, marketing: false }, version: Date.now() },
    ]);
    const marketingToMarketingOptOut = templateSend(
      A,
      '15551230002',
      { category: 'marketing' },
      'spring_sale',
    );
    const utilityToMarketingOptOut = templateSend(A, '15551230002');
    const utilityToFullOptOut = templateSend(A, '15551230003');
    const confirmationToFullOptOut = templateSend(A, '15551230003', { purpose: 'consent_confirmation' });
    const textOutsideWindow = templateSend(A, '15551230004', {
      category: 'service',
      content: { type: 'text', text: { body: 'hi' } },
    });
    const all = [
      marketingToMarketingOptOut,
      utilityToMarketingOptOut,
      utilityToFullOptOut,
      confirmationToFullOptOut,
      textOutsideWindow,
    ];
    await q.enqueue(all);
    const events = await q.waitForEvents(all.map((m) => m.messageId));
    const first = (id: string) => events.get(id)?.[0];
    expect(first(marketingToMarketingOptOut.messageId)).toMatchObject({
      status: 'failed',
      error: { code: 0, classification: 'refused', wapiCode: 'CONTACT_OPTED_OUT' },
    });
    expect(first(utilityToMarketingOptOut.messageId)?.status).toBe('sent');
    expect(first(utilityToFullOptOut.messageId)).toMatchObject({
      status: 'failed',
      error: { code: 0, classification: 'refused', wapiCode: 'CONTACT_OPTED_OUT' },
    });
    expect(first(confirmationToFullOptOut.messageId)?.status).toBe('sent');
    expect(first(textOutsideWindow.messageId)).toMatchObject({
      status: 'failed',
      error: { code: 0, classification: 'refused', wapiCode: 'OUTSIDE_CUSTOMER_SERVICE_WINDOW' },
    });
    const received = await receivedCounts(sandbox);
    for (const refused of [marketingToMarketingOptOut, utilityToFullOptOut, textOutsideWindow])
      expect(received.has(refused.messageId)).toBe(false);

    // The customer writes (the sandbox opens its window; webhook-ingest would write ours).
    await sandbox.control.inboundText('15551230004', 'hello', { phoneNumberId: A });
    const until = Date.now() + 24 * 3600_000;
    await ctx.redis.set(windowKey(ctx.prefix, A, '15551230004'), String(until), 'PXAT', until);
    const textInsideWindow = { ...textOutsideWindow, messageId: `${textOutsideWindow.messageId}_2` };
    await q.enqueue([textInsideWindow]);
    const after = await q.waitForEvents([textInsideWindow.messageId]);
    expect(after.get(textInsideWindow.messageId)?.[0]?.status).toBe('sent');
  });

  it("sends reactions and locations in Meta's shape (a reaction never as a reply)", async () => {
    const to = '15551239001';
    const inbound = await sandbox.control.inboundText(to, 'where are you?', { phoneNumberId: A });
    const until = Date.now() + 24 * 3600_000;
    await ctx.redis.set(windowKey(ctx.prefix, A, to), String(until), 'PXAT', until);
    const reaction = templateSend(A, to, {
      category: 'service',
      content: { type: 'reaction', reaction: { wamid: inbound, emoji: '👍' } },
      replyToWamid: inbound,
    });
    const location = templateSend(A, to, {
      category: 'service',
      content: {
        type: 'location',
        location: { latitude: 52.52, longitude: 13.405, name: 'Shop', address: 'Main St 1' },
      },
      replyToWamid: inbound,
    });
    await q.enqueue([reaction, location]);
    const events = await q.waitForEvents([reaction.messageId, location.messageId]);
    expect(events.get(reaction.messageId)?.[0]?.status).toBe('sent');
    expect(events.get(location.messageId)?.[0]?.status).toBe('sent');
    const received = await receivedCounts(sandbox, A);
    const sentReaction = received.get(reaction.messageId)?.[0]?.payload;
    expect(sentReaction).toMatchObject({ type: 'reaction', reaction: { message_id: inbound, emoji: '👍' } });
    expect(sentReaction?.context).toBeUndefined();
    expect(received.get(location.messageId)?.[0]?.payload).toMatchObject({
      type: 'location',
      location: { latitude: 52.52, longitude: 13.405, name: 'Shop', address: 'Main St 1' },
      context: { message_id: inbound },
    });
  });

  it(`paces a number at its throughput: 200 messages to distinct recipients at ${MPS}/s, zero 130429`, async () => {
    const messages = Array.from({ length: 200 }, (_, i) =>
      templateSend(A, `1555200${String(i).padStart(4, '0')}`),
    );
    const started = Date.now();
    await q.enqueue(messages);
    await q.waitForEvents(
      messages.map((m) => m.messageId),
      30_000,
    );
    const seconds = (Date.now() - started) / 1000;
    expect(await countOf(metrics(), 'rate_limited', 130429)).toBe(0);
    const received = await receivedCounts(sandbox, A);
    for (const m of messages) expect(received.get(m.messageId)).toHaveLength(1);
    // 200 at 40/s x 0.95 (the sender’s headroom) = 5.3 s.
    expect(seconds).toBeGreaterThan(4.5);
    expect(seconds).toBeLessThan(8);
  }, 40_000);

  it('keeps to the pair rate: a burst, then one per interval to one recipient, zero 131056', async () => {
    const to = '15553000001';
    const messages = Array.from({ length: PAIR_BURST + 6 }, () => templateSend(B, to));
    await q.enqueue(messages);
    await q.waitForEvents(
      messages.map((m) => m.messageId),
      20_000,
    );
    expect(await countOf(metrics(), 'rate_limited', 131056)).toBe(0);
    const times = (await sandbox.control.sentMessages({ phoneNumberId: B, to }))
      .map((m) => m.at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(messages.length);
    const first = times[0] as number;
    // The burst goes at once; each later one waits one more interval (the bucket refills).
    expect((times[PAIR_BURST - 1] as number) - first).toBeLessThan(PAIR_INTERVAL_MS);
    times.forEach((t, k) => {
      if (k >= PAIR_BURST) expect(t - first).toBeGreaterThanOrEqual((k - PAIR_BURST + 1) * PAIR_INTERVAL_MS);
    });
  }, 30_000);

  it("does not delay one number's messages behind another number's backlog: the backlog is parked in bulk, not run once each", async () => {
    const backlog = Array.from({ length: 400 }, (_, i) =>
      templateSend(A, `1555400${String(i).padStart(4, '0')}`),
    );
    await q.enqueue(backlog);
    const started = Date.now();
    const other = Array.from({ length: 10 }, (_, i) =>
      templateSend(B, `1555500${String(i).padStart(4, '0')}`),
    );
    await q.enqueue(other);
    await q.waitForEvents(
      other.map((m) => m.messageId),
      10_000,
    );
    const otherSeconds = (Date.now() - started) / 1000;
    // Number B's own pacing allows its 10 in 0.25 s; A's backlog needs 10.5 s.
    expect(otherSeconds).toBeLessThan(2.5);
    // BullMQ hands jobs out in order: without parking, each of A's 400 had one run (pace,
    // then delayed) before B's were taken. Parked, most of them have not run yet.
    const jobs = await Promise.all(backlog.map((m) => q.send.queue.getJob(`${WS}~${m.messageId}`)));
    const neverRun = jobs.filter((j) => j && !j.processedOn);
    expect(neverRun.length).toBeGreaterThan(100);
    const parked = (await metrics().parked.get()).values.find((v) => v.labels.lane === 'other');
    expect(parked?.value).toBeGreaterThanOrEqual(neverRun.length);
    const all = await q.emitted();
    expect(backlog.filter((m) => all.has(m.messageId)).length).toBeLessThan(backlog.length);
    // Parked jobs go at their slots, each once, within the number's pace.
    await q.waitForEvents(
      backlog.map((m) => m.messageId),
      30_000,
    );
    const received = await receivedCounts(sandbox, A);
    expect(backlog.every((m) => received.get(m.messageId)?.length === 1)).toBe(true);
    expect(await countOf(metrics(), 'rate_limited')).toBe(0);
  }, 60_000);

  it('fails a permanent Graph error at once with Meta code and title, lists it as a dead letter, and replays it only to a contact who has not opted out', async () => {
    const unknownTemplate = templateSend(A, '15557000001', {}, 'no_such_template');
    const alsoUnknown = templateSend(A, '15557000002', {}, 'no_such_template');
    await q.enqueue([unknownTemplate, alsoUnknown]);
    const events = await q.waitForEvents([unknownTemplate.messageId, alsoUnknown.messageId]);
    const event = events.get(unknownTemplate.messageId)?.[0];
    expect(event?.status).toBe('failed');
    expect(event?.error?.code).toBe(132001);
    expect(event?.error?.classification).toBe('permanent');
    expect((await receivedCounts(sandbox)).has(unknownTemplate.messageId)).toBe(false);
    // The event leaves before the job is failed (the outcome is recorded first): the dead
    // letters are listed once both jobs are.
    for (const m of [unknownTemplate, alsoUnknown])
      await waitFor(async () => (await q.send.queue.getJob(`${WS}~${m.messageId}`))?.isFailed(), {
        what: `the job of ${m.messageId} to fail`,
      });

    const gateway = testKeySet().get('gateway');
    const authorization = `Bearer ${mintServiceToken(gateway?.privateKey ?? '', { iss: 'gateway', aud: SERVICE })}`;
    const listed = await app.inject({
      method: 'GET',
      url: '/internal/v1/dead-letters',
      headers: { authorization },
    });
    expect(listed.statusCode).toBe(200);
    const items = (listed.json() as { items: Array<{ jobId: string; messageId: string; reason: string }> })
      .items;
    const dead = items.find((i) => i.messageId === unknownTemplate.messageId);
    expect(dead?.reason).toMatch(/^META_132001/);
    const deadToo = items.find((i) => i.messageId === alsoUnknown.messageId);

    // The second contact opts out meanwhile: its replay is refused.
    await publishSuppression(ctx.redis, ctx.prefix, WS, [
      { contact: alsoUnknown.to, flags: { all: true, marketing: false }, version: Date.now() },
    ]);
    const replay = await app.inject({
      method: 'POST',
      url: '/internal/v1/dead-letters/replay',
      headers: { authorization },
      payload: { jobIds: [dead?.jobId, deadToo?.jobId] },
    });
    expect(replay.json()).toEqual({
      replayed: [dead?.jobId],
      refused: [{ jobId: deadToo?.jobId, code: 'CONTACT_OPTED_OUT' }],
    });
    // Replayed, it calls Graph again (the template still does not exist: a second failure).
    await waitFor(async () => (await countOf(metrics(), 'failed', 132001)) >= 3, {
      what: 'the replayed message to be sent again',
    });
  });

  it('serves its metrics on /metrics: sends by outcome and code, pacing waits, Graph latency, queue depth and age', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);

    /** The value of one series (labels in any order, other labels such as `service` allowed). */
    const value = (name: string, labels: Record<string, string>) => {
      const line = res.body
        .split('\n')
        .find(
          (l) =>
            l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
        );
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(value('sender_sends_total', { outcome: 'sent', code: '0' })).toBeGreaterThan(0);
    expect(value('sender_sends_total', { outcome: 'refused', code: 'CONTACT_OPTED_OUT' })).toBeGreaterThan(0);
    expect(value('sender_sends_total', { outcome: 'failed', code: '132001' })).toBeGreaterThan(0);
    expect(value('sender_pacing_waits_total', { reason: 'throughput' })).toBeGreaterThan(0);
    expect(value('sender_graph_latency_seconds_count', {})).toBeGreaterThan(0);
    expect(value('sender_queue_age_seconds_count', { category: 'utility' })).toBeGreaterThan(0);
    expect(value('sender_queue_depth', { state: 'waiting', priority: '3' })).toBe(0);
    expect(value('sender_queue_depth', { state: 'delayed', priority: 'any' })).toBeGreaterThanOrEqual(0);
  });

  it('a second 190 fails the message as auth, flags the number, and sends nothing', async () => {
    await sandbox.control.revokeToken(world.accessToken);
    const m = templateSend(B, '15558000001');
    await q.enqueue([m]);
    const events = await q.waitForEvents([m.messageId]);
    expect(events.get(m.messageId)?.[0]).toMatchObject({
      status: 'failed',
      error: { code: 190, classification: 'auth' },
    });
    expect(await ctx.redis.sismember(sendingOf(app)?.state.flaggedKey() ?? '', B)).toBe(1);
    expect((await receivedCounts(sandbox)).has(m.messageId)).toBe(false);
  });
});
