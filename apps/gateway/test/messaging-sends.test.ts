import { randomBytes } from 'node:crypto';
import { markSuppressionReady, publishSuppression } from '@wapi/consent';
import { type MessageEventV1, SENT_KEY_TTL_MS, sentKey, windowKey } from '@wapi/contracts';
import { createProducer, jobIdOf } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import { useTestContext } from '@wapi/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMessageEvents } from '../src/messaging/apply-events';
import { groupCommit } from '../src/messaging/group-commit';
import { messageStateStore } from '../src/messaging/message-state';
import { messageOutbox } from '../src/messaging/outbox';
import { messagingRepositories } from '../src/messaging/repositories';
import { gatewayEnv, type Harness, insertPhoneNumber, startGateway, storeTemplate } from './harness';

const ctx = useTestContext('gwsend');
let gw: Harness;
let env: Record<string, string>;
const silent = pino({ level: 'silent' });
let sends: ReturnType<typeof createProducer<'message.send.v1'>>;

beforeAll(async () => {
  env = gatewayEnv(ctx);
  gw = await startGateway(ctx, env);
  await markSuppressionReady(ctx.redis, ctx.prefix);
  sends = createProducer('message.send.v1', { connection: ctx.redis, prefix: ctx.prefix, log: silent });
}, 30_000);

afterAll(async () => {
  await sends?.close();
  await gw?.close();
});

let numberCounter = 0;
async function workspaceWithNumber(label: string) {
  const owner = await gw.signup(label);
  numberCounter += 1;
  const phoneNumberId = `20${Date.now() % 1_000_000_000}${numberCounter}`;
  await insertPhoneNumber(ctx, owner.workspace.id, phoneNumberId);
  return { auth: owner.tokens.accessToken, phoneNumberId, ws: owner.workspace.id };
}
const openWindow = (phoneNumberId: string, waId: string) =>
  ctx.redis.set(windowKey(ctx.prefix, phoneNumberId, waId), String(Date.now() + 3_600_000), 'PX', 3_600_000);
const text = (body: string) => ({ type: 'text', text: { body } });
const jobOf = async (ws: string, id: string) => sends.queue.getJob(jobIdOf(ws, id));

describe('reactions and locations', () => {
  it('sends a reaction to a sent message named by its id or its wamid, as the wamid Meta needs', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('react');
    await openWindow(phoneNumberId, '14155550201');
    const first = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+14155550201', content: text('your table is ready') },
    });
    expect(first.statusCode, first.body).toBe(202);
    const target = first.json().id as string;
    const react = (ref: string, extra: object = {}) =>
      gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: {
          to: '+14155550201',
          content: { type: 'reaction', reaction: { wamid: ref, emoji: '👍' } },
          ...extra,
        },
      });

    // Not sent yet: no wamid to react to.
    const early = await react(target);
    expect(early.statusCode).toBe(422);
    expect(early.json().error).toMatchObject({ code: 'REACTION_TARGET_INVALID' });
    expect(early.json().error.message).toContain('sent');

    const wamid = `wamid.${randomBytes(8).toString('hex')}`;
    const state = messageStateStore({
      redis: ctx.redis,
      prefix: ctx.prefix,
      repos: messagingRepositories(ctx.db),
    });
    await applyMessageEvents(state, [
      {
        workspaceId: ws,
        messageId: target,
        wamid,
        recipient: '14155550201',
        status: 'sent',
        occurredAt: new Date().toISOString(),
        source: 'sender',
      },
    ]);
    for (const ref of [target, wamid]) {
      const answer = await react(ref);
      expect(answer.statusCode, answer.body).toBe(202);
      const job = await jobOf(ws, answer.json().id);
      expect(job?.data).toMatchObject({
        category: 'service',
        content: { type: 'reaction', reaction: { wamid, emoji: '👍' } },
      });
      expect(job?.opts.priority).toBe(2);
    }
    const stored = await gw.call('GET', `/api/v1/messages/${first.json().id}`, { token: auth });
    expect(stored.json().wamid).toBe(wamid);
  });

  it('refuses a reaction to an unknown message, to another conversation, quoting a message, or with a long emoji', async () => {
    const { auth, phoneNumberId } = await workspaceWithNumber('reactbad');
    await openWindow(phoneNumberId, '14155550202');
    await openWindow(phoneNumberId, '14155550203');
    const other = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+14155550203', content: text('for someone else') },
    });
    const react = (wamid: string, extra: object = {}, emoji = '❤️') =>
      gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: { to: '+14155550202', content: { type: 'reaction', reaction: { wamid, emoji } }, ...extra },
      });
    const unknown = await react(`msg_${'Z'.repeat(22)}`);
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.code).toBe('REACTION_TARGET_INVALID');
    expect((await react('wamid.NOPE')).json().error.code).toBe('REACTION_TARGET_INVALID');
    const elsewhere = await react(other.json().id);
    expect(elsewhere.json().error).toMatchObject({ code: 'REACTION_TARGET_INVALID' });
    expect(elsewhere.json().error.message).toContain('another conversation');
    const quoting = await react(other.json().id, { replyToWamid: 'wamid.X' });
    expect(quoting.statusCode).toBe(400);
    expect(quoting.json().error.message).toContain('replyToWamid');
    expect((await react(other.json().id, {}, '😀'.repeat(20))).statusCode).toBe(400);
  });

  it('sends a location inside the window, and refuses an impossible one (400) or one outside the window (422)', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('loc');
    await openWindow(phoneNumberId, '14155550204');
    const location = { latitude: 51.5007, longitude: -0.1246, name: 'Big Ben', address: 'London SW1A 0AA' };
    const sent = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+14155550204', content: { type: 'location', location } },
    });
    expect(sent.statusCode, sent.body).toBe(202);
    expect((await jobOf(ws, sent.json().id))?.data.content).toEqual({ type: 'location', location });
    for (const bad of [{ latitude: 91, longitude: 0 }, { latitude: 10 }, { latitude: 10, longitude: -181 }]) {
      const answer = await gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: { to: '+14155550204', content: { type: 'location', location: bad } },
      });
      expect(answer.statusCode, JSON.stringify(bad)).toBe(400);
      expect(answer.json().error.code).toBe('VALIDATION_FAILED');
    }
    const closed = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+14155550205', content: { type: 'location', location } },
    });
    expect(closed.json().error.code).toBe('OUTSIDE_CUSTOMER_SERVICE_WINDOW');
  });
});

describe('POST /api/v1/messages/batch with Idempotency-Key', () => {
  it('answers the same result for the same key and body (never two messages, even concurrently) and 422 for another body', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('batchidem');
    await storeTemplate(ctx, ws, { name: 'pickup_ready', category: 'UTILITY' });
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact: '14155550299', flags: { all: true, marketing: true }, version: Date.now() },
    ]);
    await openWindow(phoneNumberId, '14155550211');
    const body = {
      messages: [
        { to: '+14155550211', content: text('hello') },
        {
          to: '+14155550299',
          content: { type: 'template', template: { name: 'pickup_ready', language: 'en' } },
        },
        {
          to: '+14155550212',
          content: { type: 'template', template: { name: 'pickup_ready', language: 'en' } },
        },
      ],
    };
    const key = `batch-${randomBytes(6).toString('hex')}`;
    const call = (b: object = body) =>
      gw.call('POST', '/api/v1/messages/batch', {
        token: auth,
        body: b,
        headers: { 'idempotency-key': key },
      });
    const answers = await Promise.all(Array.from({ length: 10 }, () => call()));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(10).fill(202));
    const first = answers[0]!.json();
    expect(first.accepted).toBe(2);
    expect(first.results[1]).toMatchObject({ index: 1, error: { code: 'CONTACT_OPTED_OUT' } });
    for (const a of answers) expect(a.json()).toEqual(first);
    const again = await call();
    expect(again.json()).toEqual(first);
    expect(await ctx.db.collection('messages').countDocuments({ workspaceId: ws })).toBe(2);
    for (const r of first.results.filter((r: { id?: string }) => r.id)) {
      expect(await jobOf(ws, r.id)).toBeTruthy();
    }

    const other = await call({ messages: [body.messages[0]] });
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Without a key two calls are two batches.
    await gw.call('POST', '/api/v1/messages/batch', { token: auth, body: { messages: [body.messages[0]] } });
    expect(await ctx.db.collection('messages').countDocuments({ workspaceId: ws })).toBe(3);
  });
});

describe('the send hot path (caches and group commit)', () => {
  it('stores and enqueues each of 60 concurrent sends once, and refuses a deleted contact at once despite the cache', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('hot');
    await openWindow(phoneNumberId, '14155550241');
    const contact = (
      await gw.call('POST', '/api/v1/contacts', { token: auth, body: { phone: '+14155550241' } })
    ).json();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        gw.call('POST', '/api/v1/messages', {
          token: auth,
          body: { contactId: contact.id, content: text(`n${i}`) },
        }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array(60).fill(202));
    const ids = answers.map((a) => a.json().id as string);
    expect(new Set(ids).size).toBe(60);
    expect(await ctx.db.collection('messages').countDocuments({ workspaceId: ws })).toBe(60);
    const jobs = await Promise.all(ids.map((id) => jobOf(ws, id)));
    expect(jobs.map((j) => (j?.data.content as { text: { body: string } }).text.body).sort()).toEqual(
      Array.from({ length: 60 }, (_, i) => `n${i}`).sort(),
    );
    // The contact is cached now; deleting it takes effect on the next send.
    expect((await gw.call('DELETE', `/api/v1/contacts/${contact.id}`, { token: auth })).statusCode).toBe(204);
    const gone = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { contactId: contact.id, content: text('too late') },
    });
    expect(gone.statusCode).toBe(404);
  });
});

describe('group commit', () => {
  it('gathers the sends arriving while a write is in flight into the next write, so batches grow with the load', async () => {
    const { ws } = await workspaceWithNumber('group');
    const real = messagingRepositories(ctx.db);
    // The real repository, observed: how many insertMany calls carry the 200 sends.
    const sizes: number[] = [];
    const repos = {
      ...real,
      messages: {
        ...real.messages,
        insertMany: ((w, docs, options) => {
          sizes.push(docs.length);
          return real.messages.insertMany(w, docs, options);
        }) as typeof real.messages.insertMany,
      },
    };
    const outbox = messageOutbox({
      redis: ctx.redis,
      prefix: ctx.prefix,
      repos,
      sendQueue: () => sends,
      now: () => new Date(),
    });
    const commit = groupCommit({ repos, outbox, maxInFlight: 1 });
    const docs = Array.from({ length: 200 }, (_, i) => ({
      _id: `msg_grp${i}_${randomBytes(6).toString('hex')}`,
      workspaceId: ws,
      direction: 'outbound' as const,
      phoneNumberId: '2000001',
      waId: '14155550251',
      contactId: `ct_${'C'.repeat(22)}`,
      wamid: null,
      status: 'accepted' as const,
      statusRank: 0,
      category: 'service' as const,
      contentType: 'text',
      content: text(`g${i}`),
      replyToWamid: null,
      history: [{ status: 'accepted', at: new Date() }],
      error: null,
      requestHash: null,
      createdAt: new Date(),
    }));
    // 200 sends in 20 groups, one event-loop turn apart. Flushed per turn, that would be 20
    // writes; a write needs several turns (four round trips), so gathered while one is in
    // flight they are a handful.
    const answers: Promise<boolean>[] = [];
    for (let group = 0; group < 20; group++) {
      for (const d of docs.slice(group * 10, group * 10 + 10)) answers.push(commit.commit(d));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await Promise.all(answers)).toEqual(Array(200).fill(true));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(200);
    expect(sizes.length).toBeLessThanOrEqual(8);
    expect(await ctx.db.collection('messages').countDocuments({ workspaceId: ws })).toBe(200);
    expect((await jobOf(ws, docs[199]!._id))?.data.messageId).toBe(docs[199]!._id);
  });
});

describe('the outbox: accepted messages whose enqueue failed', () => {
  it('answers 202 when the enqueue fails after the store write, and a sweep enqueues the message', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('outbox');
    await openWindow(phoneNumberId, '14155550221');
    // A real enqueue failure: BullMQ's add script INCRs the queue's id counter, which fails on
    // a value that is not an integer (Redis answers, the store write before it succeeded).
    const idKey = sends.queue.keys.id as string;
    const counter = await ctx.redis.get(idKey);
    await ctx.redis.set(idKey, 'not-a-number');
    let id: string;
    try {
      const answer = await gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: { to: '+14155550221', content: text('stored, not queued') },
      });
      expect(answer.statusCode, answer.body).toBe(202);
      id = answer.json().id;
    } finally {
      await ctx.redis.set(idKey, counter ?? '0');
    }
    expect(await jobOf(ws, id)).toBeUndefined();
    expect(await ctx.db.collection('message_outbox').countDocuments({ _id: id as never })).toBe(1);
    expect(gw.logs()).toContain('the outbox sweep enqueues it');

    const outbox = messageOutbox({
      redis: ctx.redis,
      prefix: ctx.prefix,
      repos: messagingRepositories(ctx.db),
      sendQueue: () => sends,
      now: () => new Date(),
    });
    expect(await outbox.sweep()).toBeGreaterThanOrEqual(1);
    expect((await jobOf(ws, id))?.data).toMatchObject({ messageId: id, content: text('stored, not queued') });
    expect(await ctx.db.collection('message_outbox').countDocuments({ _id: id as never })).toBe(0);
  });

  it('enqueues a message marked pending and stored but never enqueued (a crash between the two) once the grace has passed', async () => {
    const { ws } = await workspaceWithNumber('crash');
    const repos = messagingRepositories(ctx.db);
    let clock = Date.now();
    const outbox = messageOutbox({
      redis: ctx.redis,
      prefix: ctx.prefix,
      repos,
      sendQueue: () => sends,
      now: () => new Date(clock),
      graceMs: 30_000,
    });
    const id = `msg_${randomBytes(11).toString('hex')}`;
    await outbox.mark([{ workspaceId: ws, _id: id }]);
    await repos.messages.insertOne(asWorkspaceId(ws), {
      _id: id,
      direction: 'outbound',
      phoneNumberId: '2000001',
      waId: '14155550222',
      contactId: `ct_${'B'.repeat(22)}`,
      wamid: null,
      status: 'accepted',
      statusRank: 0,
      category: 'service',
      contentType: 'text',
      content: text('crashed before the enqueue'),
      replyToWamid: null,
      history: [{ status: 'accepted', at: new Date(clock) }],
      error: null,
      requestHash: null,
      createdAt: new Date(clock),
    });
    // Within the grace the request may still be enqueueing it: left alone.
    await outbox.sweep();
    expect(await jobOf(ws, id)).toBeUndefined();
    clock += 31_000;
    await outbox.sweep();
    expect((await jobOf(ws, id))?.data.messageId).toBe(id);
  });
});

describe('message events: pricing, wapi refusals, biz_opaque', () => {
  it('applies pricing and error.wapiCode onto the message, and a webhook status carrying messageId before the sender mapped the wamid', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('pricing');
    await openWindow(phoneNumberId, '14155550231');
    await openWindow(phoneNumberId, '14155550232');
    const withWorkers = await startGateway(ctx, env, undefined, undefined, true);
    const events = createProducer('message.events.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    try {
      const send = async (to: string) =>
        (await gw.call('POST', '/api/v1/messages', { token: auth, body: { to, content: text('hi') } })).json()
          .id as string;
      const priced = await send('+14155550231');
      const refused = await send('+14155550232');
      const wamid = `wamid.${randomBytes(8).toString('hex')}`;
      const at = new Date().toISOString();
      const base = { workspaceId: ws, occurredAt: at };
      const list: MessageEventV1[] = [
        // A status webhook whose biz_opaque_callback_data named the message: applied at once.
        {
          ...base,
          messageId: priced,
          wamid,
          recipient: '14155550231',
          status: 'delivered',
          source: 'webhook',
          pricing: {
            billable: false,
            category: 'service',
            pricingModel: 'PMP',
            type: 'free_customer_service',
          },
        },
        {
          ...base,
          messageId: refused,
          recipient: '14155550232',
          status: 'failed',
          source: 'sender',
          error: { code: 0, title: 'The contact opted out', wapiCode: 'CONTACT_OPTED_OUT' },
        },
      ];
      for (const e of list) await events.add(e, { jobId: jobIdOf(ws, e.messageId ?? '', e.status) });
      const read = async (id: string) =>
        (await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json();
      await expect
        .poll(async () => (await read(priced)).status, { timeout: 20_000, interval: 200 })
        .toBe('delivered');
      expect(await read(priced)).toMatchObject({
        wamid,
        pricing: { billable: false, category: 'service', pricingModel: 'PMP', type: 'free_customer_service' },
      });
      await expect
        .poll(async () => (await read(refused)).status, { timeout: 20_000, interval: 200 })
        .toBe('failed');
      expect((await read(refused)).error).toEqual({
        code: 0,
        title: 'The contact opted out',
        wapiCode: 'CONTACT_OPTED_OUT',
      });
      const byWamid = await gw.call('GET', `/api/v1/messages?wamid=${wamid}`, { token: auth });
      expect(byWamid.json().messages.map((m: { id: string }) => m.id)).toEqual([priced]);
      // The webhook status proves Meta accepted the send: message-sender settles a lost Graph
      // answer from this key; the sender's own event (no webhook) writes none.
      expect(await ctx.redis.get(sentKey(ctx.prefix, ws, priced))).toBe(wamid);
      expect(await ctx.redis.pttl(sentKey(ctx.prefix, ws, priced))).toBeGreaterThan(SENT_KEY_TTL_MS - 60_000);
      expect(await ctx.redis.exists(sentKey(ctx.prefix, ws, refused))).toBe(0);
    } finally {
      await events.close();
      await withWorkers.close();
    }
  }, 60_000);
});
