import { randomBytes } from 'node:crypto';
import { markSuppressionReady, publishSuppression } from '@wapi/consent';
import { directoryKey, type MessageEventV1, windowKey } from '@wapi/contracts';
import { createProducer, jobIdOf } from '@wapi/service-kit';
import { deleteKeys, useTestContext } from '@wapi/testkit';
import { createVaultClient } from '@wapi/vault-client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Answer,
  gatewayEnv,
  type Harness,
  readEvents,
  serviceToken,
  startGateway,
  startVault,
  storeTemplate,
} from './harness';

const ctx = useTestContext('gwmsg');
let vault: Awaited<ReturnType<typeof startVault>>;
let gw: Harness;
/** One environment (one token signing key) for every gateway instance of this file. */
let env: Record<string, string>;
const silent = pino({ level: 'silent' });

beforeAll(async () => {
  vault = await startVault(ctx);
  env = gatewayEnv(ctx, { VAULT_URL: vault.url });
  gw = await startGateway(ctx, env);
  // compliance marks the suppression list complete once it rebuilt it; here no one is opted out yet.
  await markSuppressionReady(ctx.redis, ctx.prefix);
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await vault?.stop();
});

let numberCounter = 0;
const newPhoneNumberId = () => {
  numberCounter += 1;
  return `10${Date.now() % 1_000_000_000}${numberCounter}`;
};
const token = () => `EAAG${randomBytes(24).toString('hex')}`;

/** A workspace with one connected number. */
async function workspaceWithNumber(label: string) {
  const owner = await gw.signup(label);
  const auth = owner.tokens.accessToken;
  const phoneNumberId = newPhoneNumberId();
  const accessToken = token();
  const connected = await gw.call('POST', '/api/v1/phone-numbers', {
    token: auth,
    body: { phoneNumberId, wabaId: '2001', displayPhoneNumber: '+1 555 0100', accessToken },
  });
  expect(connected.statusCode, connected.body).toBe(201);
  // Approved templates as a sync from Meta stores them: one marketing, one utility.
  await storeTemplate(ctx, owner.workspace.id, { name: 'order_update', category: 'MARKETING' });
  await storeTemplate(ctx, owner.workspace.id, { name: 'shipping_notice', category: 'UTILITY' });
  return { owner, auth, phoneNumberId, accessToken, ws: owner.workspace.id };
}

const openWindow = (phoneNumberId: string, waId: string, ms = 3_600_000) =>
  ctx.redis.set(windowKey(ctx.prefix, phoneNumberId, waId), String(Date.now() + ms), 'PX', ms);

const text = (body: string) => ({ type: 'text', text: { body } });
const template = { type: 'template', template: { name: 'order_update', language: 'en' } };
const utilityTemplate = { type: 'template', template: { name: 'shipping_notice', language: 'en' } };

describe('phone numbers', () => {
  it('connects a number, keeps the token in vault only, lists and inspects it, and refuses it to another workspace', async () => {
    const { auth, phoneNumberId, accessToken, ws } = await workspaceWithNumber('pn');
    const list = await gw.call('GET', '/api/v1/phone-numbers', { token: auth });
    expect(list.statusCode).toBe(200);
    expect(list.json().phoneNumbers).toEqual([
      expect.objectContaining({ phoneNumberId, wabaId: '2001', status: 'connected', throughputMps: 80 }),
    ]);
    const one = await gw.call('GET', `/api/v1/phone-numbers/${phoneNumberId}`, { token: auth });
    expect(one.json()).toMatchObject({ phoneNumberId, displayPhoneNumber: '+1 555 0100' });
    for (const answer of [list, one]) expect(answer.body).not.toContain(accessToken);
    const stored = await ctx.db.collection('phone_numbers').findOne({ _id: phoneNumberId as never });
    expect(JSON.stringify(stored)).not.toContain(accessToken);
    // gateway may read its own token back through vault (message-sender does the same).
    const client = createVaultClient({
      baseUrl: vault.url,
      auth: gw.app.internalAuth!,
      prefix: ctx.prefix,
      cacheTtlMs: 0,
    });
    expect(await client.get(ws, 'meta.access_token', phoneNumberId)).toBe(accessToken);
    await client.close();

    const other = await gw.signup('pnother');
    const taken = await gw.call('POST', '/api/v1/phone-numbers', {
      token: other.tokens.accessToken,
      body: { phoneNumberId, wabaId: '2002', displayPhoneNumber: '+1 555 0199', accessToken: token() },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.code).toBe('PHONE_NUMBER_TAKEN');
  });

  it('publishes the directory, serves a Redis miss from the database to webhook-ingest, and rebuilds it at start-up', async () => {
    const { phoneNumberId, ws } = await workspaceWithNumber('dir');
    const key = directoryKey(ctx.prefix, phoneNumberId);
    expect(JSON.parse((await ctx.redis.get(key)) ?? 'null')).toMatchObject({
      phoneNumberId,
      workspaceId: ws,
      wabaId: '2001',
    });

    await ctx.redis.del(key);
    const internal = (id: string, authorization?: string) =>
      gw.app.inject({
        method: 'GET',
        url: `/internal/v1/directory/${id}`,
        headers: authorization ? { authorization } : {},
      });
    const missed = await internal(phoneNumberId, serviceToken('webhook-ingest'));
    expect(missed.statusCode, missed.body).toBe(200);
    expect(missed.json()).toMatchObject({ phoneNumberId, workspaceId: ws, wabaId: '2001' });
    expect(await ctx.redis.get(key)).not.toBeNull();
    expect((await internal('999999999999', serviceToken('webhook-ingest'))).statusCode).toBe(404);
    expect((await internal(phoneNumberId)).statusCode).toBe(401);

    await ctx.redis.del(key);
    const restarted = await startGateway(ctx, env);
    try {
      expect(JSON.parse((await ctx.redis.get(key)) ?? 'null')).toMatchObject({ workspaceId: ws });
    } finally {
      await restarted.close();
    }
  });
});

describe('contacts', () => {
  it('normalises to E.164, refuses impossible numbers and duplicates, finds by phone, updates and deletes', async () => {
    const owner = await gw.signup('ct');
    const auth = owner.tokens.accessToken;
    const created = await gw.call('POST', '/api/v1/contacts', {
      token: auth,
      body: { phone: '+44 20 7946 0958', name: 'Asha', tags: ['vip', 'vip'], attributes: { city: 'London' } },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ phone: '+442079460958', waId: '442079460958', tags: ['vip'] });
    const id = created.json().id;

    const again = await gw.call('POST', '/api/v1/contacts', { token: auth, body: { phone: '442079460958' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('CONTACT_EXISTS');
    const impossible = await gw.call('POST', '/api/v1/contacts', { token: auth, body: { phone: '+1 23' } });
    expect(impossible.statusCode).toBe(422);
    expect(impossible.json().error.code).toBe('PHONE_NUMBER_INVALID');
    expect(impossible.json().error.message).toContain('country code');

    const found = await gw.call('GET', `/api/v1/contacts?phone=${encodeURIComponent('+44 (20) 7946-0958')}`, {
      token: auth,
    });
    expect(found.json().contacts.map((c: { id: string }) => c.id)).toEqual([id]);
    const patched = await gw.call('PATCH', `/api/v1/contacts/${id}`, {
      token: auth,
      body: { name: 'Asha K', tags: ['gold'] },
    });
    expect(patched.json()).toMatchObject({ name: 'Asha K', tags: ['gold'], phone: '+442079460958' });
    expect((await gw.call('GET', '/api/v1/contacts?tag=gold', { token: auth })).json().contacts).toHaveLength(
      1,
    );
    expect((await gw.call('GET', '/api/v1/contacts?q=asha', { token: auth })).json().contacts).toHaveLength(
      1,
    );
    expect((await gw.call('DELETE', `/api/v1/contacts/${id}`, { token: auth })).statusCode).toBe(204);
    expect((await gw.call('GET', `/api/v1/contacts/${id}`, { token: auth })).statusCode).toBe(404);
  });

  it('imports a CSV with a per-row error report, and adds nothing on re-import', async () => {
    const owner = await gw.signup('csv');
    const auth = owner.tokens.accessToken;
    const csv = [
      'phone,name,tags',
      '+14155550301,"Doe, Jane",vip;gold',
      '+14155550302,"Said ""Hi""",',
      'not a number,Bad,',
      '+1 415 555 0301,Again,',
      '+14155550303,Carl,new',
    ].join('\r\n');
    const upload = () =>
      gw.app.inject({
        method: 'POST',
        url: '/api/v1/contacts/import',
        headers: { authorization: `Bearer ${auth}`, 'content-type': 'text/csv' },
        payload: csv,
      });
    const first = await upload();
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ rows: 5, imported: 3, duplicates: 1 });
    expect(first.json().errors).toEqual([expect.objectContaining({ row: 4, code: 'PHONE_NUMBER_INVALID' })]);
    const jane = await gw.call('GET', '/api/v1/contacts?phone=14155550301', { token: auth });
    expect(jane.json().contacts[0]).toMatchObject({ name: 'Doe, Jane', tags: ['vip', 'gold'] });
    const quoted = await gw.call('GET', '/api/v1/contacts?phone=14155550302', { token: auth });
    expect(quoted.json().contacts[0].name).toBe('Said "Hi"');
    const again = await upload();
    expect(again.json()).toMatchObject({ rows: 5, imported: 0, duplicates: 4 });
    expect((await gw.call('GET', '/api/v1/contacts', { token: auth })).json().contacts).toHaveLength(3);
  });

  it('pages with a cursor: every contact once, in order, then no cursor', async () => {
    const owner = await gw.signup('page');
    const auth = owner.tokens.accessToken;
    for (let i = 0; i < 7; i++) {
      const r = await gw.call('POST', '/api/v1/contacts', {
        token: auth,
        body: { phone: `+1415555010${i}` },
      });
      expect(r.statusCode, r.body).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const answer: Answer = await gw.call(
        'GET',
        `/api/v1/contacts?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        {
          token: auth,
        },
      );
      seen.push(...answer.json().contacts.map((c: { phone: string }) => c.phone));
      cursor = answer.json().nextCursor;
      if (!cursor) break;
    }
    expect(seen.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `+1415555010${i}`));
  });
});

describe('POST /api/v1/messages', () => {
  it('accepts a free-form message inside the window: stored, enqueued once, 202 with the id, readable', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('send');
    await openWindow(phoneNumberId, '14155550111');
    const answer = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+1 415 555 0111', content: text('hello'), replyToWamid: 'wamid.QUOTED' },
    });
    expect(answer.statusCode, answer.body).toBe(202);
    const id = answer.json().id;
    const sends = createProducer('message.send.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    try {
      const job = await sends.queue.getJob(jobIdOf(ws, id));
      expect(job?.data).toMatchObject({
        workspaceId: ws,
        messageId: id,
        phoneNumberId,
        to: '14155550111',
        category: 'service',
        content: text('hello'),
        replyToWamid: 'wamid.QUOTED',
      });
    } finally {
      await sends.close();
    }
    const read = await gw.call('GET', `/api/v1/messages/${id}`, { token: auth });
    expect(read.json()).toMatchObject({ id, status: 'accepted', direction: 'outbound', contentType: 'text' });
    // Sending to a new number created its contact.
    const contact = await gw.call('GET', '/api/v1/contacts?phone=14155550111', { token: auth });
    expect(contact.json().contacts).toHaveLength(1);
    const timeline = await gw.call('GET', `/api/v1/contacts/${contact.json().contacts[0].id}/messages`, {
      token: auth,
    });
    expect(timeline.json().messages.map((m: { id: string }) => m.id)).toEqual([id]);
    expect(timeline.json().windowExpiresAt).not.toBeNull();
  });

  it('refuses free-form outside the window (422) but takes a template there', async () => {
    const { auth } = await workspaceWithNumber('window');
    const free = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+14155550112', content: text('hi') },
    });
    expect(free.statusCode).toBe(422);
    expect(free.json().error.code).toBe('OUTSIDE_CUSTOMER_SERVICE_WINDOW');
    expect(free.json().error.message).toContain('template');
    const tpl = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: '+14155550112', content: template },
    });
    expect(tpl.statusCode, tpl.body).toBe(202);
  });

  it('refuses an opted-out contact with 403 CONTACT_OPTED_OUT; a marketing-only opt-out blocks marketing templates only (the stored category decides)', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('optout');
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact: '14155550113', flags: { all: true, marketing: true }, version: Date.now() },
      { contact: '14155550114', flags: { all: false, marketing: true }, version: Date.now() },
    ]);
    await openWindow(phoneNumberId, '14155550113');
    await openWindow(phoneNumberId, '14155550114');
    const send = (to: string, content: object, category?: string) =>
      gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: { to, content, ...(category ? { category } : {}) },
      });
    const all = await send('+14155550113', text('hi'));
    expect(all.statusCode).toBe(403);
    expect(all.json().error.code).toBe('CONTACT_OPTED_OUT');
    expect((await send('+14155550114', template)).statusCode).toBe(403);
    // The caller cannot relabel a marketing template: the stored category decides.
    expect((await send('+14155550114', template, 'utility')).statusCode).toBe(403);
    expect((await send('+14155550114', utilityTemplate)).statusCode).toBe(202);
    expect((await send('+14155550114', text('your order shipped'))).statusCode).toBe(202);
  });

  it('refuses a send without a connected number (422 PHONE_NUMBER_NOT_CONNECTED) and an unknown contact (404)', async () => {
    const owner = await gw.signup('nonum');
    const none = await gw.call('POST', '/api/v1/messages', {
      token: owner.tokens.accessToken,
      body: { to: '+14155550115', content: template },
    });
    expect(none.statusCode).toBe(422);
    expect(none.json().error.code).toBe('PHONE_NUMBER_NOT_CONNECTED');
    const { auth } = await workspaceWithNumber('nocontact');
    const unknown = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { contactId: `ct_${'A'.repeat(22)}`, content: template },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('never creates two messages for one Idempotency-Key under 50 concurrent retries; another body is 422', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('idem');
    await openWindow(phoneNumberId, '14155550116');
    const key = `order-${randomBytes(6).toString('hex')}`;
    const body = { to: '+14155550116', content: text('exactly once') };
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        gw.call('POST', '/api/v1/messages', { token: auth, body, headers: { 'idempotency-key': key } }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array(50).fill(202));
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    expect(await ctx.db.collection('messages').countDocuments({ workspaceId: ws })).toBe(1);
    const sends = createProducer('message.send.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    try {
      // Sends carry a priority by category, so they wait in BullMQ's `prioritized` set.
      const jobs = await sends.queue.getJobs([
        'waiting',
        'prioritized',
        'delayed',
        'active',
        'completed',
        'failed',
      ]);
      expect(jobs.filter((j) => j.data.workspaceId === ws)).toHaveLength(1);
    } finally {
      await sends.close();
    }
    const other = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { ...body, content: text('something else') },
      headers: { 'idempotency-key': key },
    });
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('POST /api/v1/messages/batch and /send', () => {
  it('accepts 1,000 messages in one call, refusing the opted-out one by index, and the compatibility form', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('batch');
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact: '14155557777', flags: { all: true, marketing: true }, version: Date.now() },
    ]);
    const messages = Array.from({ length: 1_000 }, (_, i) => ({
      to: i === 7 ? '+14155557777' : `+1415600${String(i).padStart(4, '0')}`,
      content: utilityTemplate,
    }));
    const answer = await gw.call('POST', '/api/v1/messages/batch', { token: auth, body: { messages } });
    expect(answer.statusCode, answer.body.slice(0, 300)).toBe(202);
    expect(answer.json().accepted).toBe(999);
    expect(answer.json().results[7]).toEqual({
      index: 7,
      error: expect.objectContaining({ code: 'CONTACT_OPTED_OUT' }),
    });
    expect(await ctx.db.collection('messages').countDocuments({ workspaceId: ws })).toBe(999);
    const sends = createProducer('message.send.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    try {
      const first = answer.json().results[0].id;
      expect((await sends.queue.getJob(jobIdOf(ws, first)))?.data).toMatchObject({
        to: '14156000000',
        phoneNumberId,
      });
    } finally {
      await sends.close();
    }

    const contact = (await gw.call('GET', '/api/v1/contacts?phone=14156000001', { token: auth })).json()
      .contacts[0];
    await openWindow(phoneNumberId, '14156000001');
    const compat = await gw.call('POST', '/api/v1/messages/send', {
      token: auth,
      body: { contactId: contact.id, body: 'hi' },
    });
    expect(compat.statusCode, compat.body).toBe(202);
    const read = await gw.call('GET', `/api/v1/messages/${compat.json().id}`, { token: auth });
    expect(read.json()).toMatchObject({ contactId: contact.id, contentType: 'text' });
  }, 60_000);
});

describe('message state from events (workers)', () => {
  it('moves a sent message forward from message.events, finds it by wamid, and stores an inbound message once', async () => {
    const { auth, phoneNumberId, ws } = await workspaceWithNumber('events');
    const withWorkers = await startGateway(ctx, env, undefined, undefined, true);
    const events = createProducer('message.events.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    const inbound = createProducer('message.inbound.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    try {
      const sent = await gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: { to: '+14155550117', content: template },
      });
      const id = sent.json().id;
      const wamid = `wamid.${randomBytes(8).toString('hex')}`;
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
      const event = (status: MessageEventV1['status'], s: number, withId: boolean): MessageEventV1 => ({
        workspaceId: ws,
        ...(withId ? { messageId: id } : {}),
        wamid,
        recipient: '14155550117',
        status,
        occurredAt: at(s),
        source: withId ? 'sender' : 'webhook',
      });
      // `read` first, then `delivered`, then the sender's `sent`: the end state is still `read`.
      await events.add(event('read', 3, false), { jobId: jobIdOf(ws, wamid, 'read') });
      await events.add(event('delivered', 2, false), { jobId: jobIdOf(ws, wamid, 'delivered') });
      await events.add(event('sent', 1, true), { jobId: jobIdOf(ws, wamid, 'sent') });
      await expect
        .poll(async () => (await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json().status, {
          timeout: 20_000,
          interval: 200,
        })
        .toBe('read');
      await expect
        .poll(
          async () => (await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json().history.length,
          { timeout: 20_000, interval: 200 },
        )
        .toBe(4);
      const { history } = (await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json();
      expect(history.map((h: { status: string }) => h.status)).toEqual([
        'accepted',
        'sent',
        'delivered',
        'read',
      ]);
      expect(history[1].at).toBe(at(1));
      // The same changes as Server-Sent Events, from the start of the workspace's stream, and
      // resumed after the first one with Last-Event-ID.
      const address = await withWorkers.app.listen({ port: 0, host: '127.0.0.1' });
      const live = await readEvents(`${address}/api/v1/events`, auth, 3, '0-0');
      expect(live.map((e) => e.event)).toEqual(Array(3).fill('message.status'));
      expect(live.map((e) => e.data.messageId)).toEqual([id, id, id]);
      expect(live.map((e) => e.data.status).sort()).toEqual(['delivered', 'read', 'sent']);
      const resumed = await readEvents(`${address}/api/v1/events`, auth, 2, live[0]?.id);
      expect(resumed.map((e) => e.id)).toEqual(live.slice(1).map((e) => e.id));
      const byWamid = await gw.call('GET', `/api/v1/messages?wamid=${wamid}`, { token: auth });
      expect(byWamid.json().messages.map((m: { id: string }) => m.id)).toEqual([id]);
      // Meta's webhook reports `sent` too, at its own (earlier, whole-second) time: the history
      // still shows `sent` once, at the earliest report.
      await events.add(event('sent', 0, false), { jobId: jobIdOf(ws, wamid, 'sent-webhook') });
      await expect
        .poll(async () => (await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json().history, {
          timeout: 20_000,
          interval: 200,
        })
        .toMatchObject([
          { status: 'accepted' },
          { status: 'sent', at: at(0) },
          { status: 'delivered' },
          { status: 'read' },
        ]);
      // Redis loses the applied state (and the wamid map): the API reads the same message,
      // rebuilt from the durable status documents, by id, by wamid and in the timeline.
      const whole = (await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json();
      expect(await deleteKeys(ctx.redis, `${ctx.prefix}:{gw-msg-state}:*`)).toBeGreaterThan(0);
      expect((await gw.call('GET', `/api/v1/messages/${id}`, { token: auth })).json()).toEqual(whole);
      await deleteKeys(ctx.redis, `${ctx.prefix}:{gw-msg-state}:*`);
      expect(
        (await gw.call('GET', `/api/v1/messages?wamid=${wamid}`, { token: auth })).json().messages,
      ).toEqual([whole]);
      await deleteKeys(ctx.redis, `${ctx.prefix}:{gw-msg-state}:*`);
      const timeline = await gw.call('GET', `/api/v1/contacts/${whole.contactId}/messages`, { token: auth });
      expect(timeline.json().messages).toEqual([whole]);

      const inboundWamid = `wamid.${randomBytes(8).toString('hex')}`;
      const message = {
        workspaceId: ws,
        phoneNumberId,
        from: '14155550118',
        wamid: inboundWamid,
        receivedAt: new Date().toISOString(),
        journalId: 'j1',
        content: { type: 'text' as const, text: { body: 'hello there' } },
      };
      await inbound.add(message, { jobId: jobIdOf(ws, inboundWamid) });
      await inbound.add(message, { jobId: jobIdOf(ws, inboundWamid, 'redelivered') });
      await expect
        .poll(
          async () =>
            (await gw.call('GET', `/api/v1/messages?wamid=${inboundWamid}`, { token: auth })).json().messages
              .length,
          { timeout: 20_000, interval: 200 },
        )
        .toBe(1);
      const contact = await gw.call('GET', '/api/v1/contacts?phone=14155550118', { token: auth });
      expect(contact.json().contacts).toHaveLength(1);
      await expect
        .poll(async () => (await inbound.queue.getJobCounts('completed')).completed, {
          timeout: 20_000,
          interval: 200,
        })
        .toBe(2);
      expect(
        await ctx.db.collection('messages').countDocuments({ workspaceId: ws, wamid: inboundWamid }),
      ).toBe(1);
    } finally {
      await events.close();
      await inbound.close();
      await withWorkers.close();
    }
  }, 60_000);
});
