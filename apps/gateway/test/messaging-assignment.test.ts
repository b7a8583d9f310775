import { randomBytes } from 'node:crypto';
import { markSuppressionReady } from '@wapi/consent';
import { windowKey } from '@wapi/contracts';
import { createProducer, jobIdOf } from '@wapi/service-kit';
import { useTestContext } from '@wapi/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, type Harness, insertPhoneNumber, readEvents, startGateway } from './harness';

const ctx = useTestContext('gwasgn');
let gw: Harness;
let env: Record<string, string>;

beforeAll(async () => {
  env = gatewayEnv(ctx);
  gw = await startGateway(ctx, env);
  await markSuppressionReady(ctx.redis, ctx.prefix);
}, 30_000);
afterAll(() => gw?.close());

/** Adds a fresh user to `ownerToken`'s workspace as `role` and logs them in there. */
async function member(ownerToken: string, ws: string, role: 'agent' | 'viewer') {
  const user = await gw.signup(role);
  const added = await gw.call('POST', '/api/v1/members', {
    token: ownerToken,
    body: { email: user.user.email, role },
  });
  expect(added.statusCode, added.body).toBe(201);
  const login = await gw.call('POST', '/api/v1/auth/login', {
    body: { email: user.user.email, password: user.password, workspaceId: ws },
  });
  expect(login.statusCode, login.body).toBe(200);
  return { id: user.user.id as string, token: login.json().accessToken as string };
}

/** A workspace with a number, an agent, a viewer, and a message to each of two contacts. */
async function setUp(label: string) {
  const owner = await gw.signup(label);
  const ws = owner.workspace.id;
  const auth = owner.tokens.accessToken;
  const phoneNumberId = `30${Date.now() % 1_000_000_000}${randomBytes(2).readUInt16BE() % 100}`;
  await insertPhoneNumber(ctx, ws, phoneNumberId);
  const agent = await member(auth, ws, 'agent');
  const viewer = await member(auth, ws, 'viewer');
  const conversations = [];
  for (const waId of ['14155550301', '14155550302']) {
    await ctx.redis.set(
      windowKey(ctx.prefix, phoneNumberId, waId),
      String(Date.now() + 3_600_000),
      'PX',
      3_600_000,
    );
    const sent = await gw.call('POST', '/api/v1/messages', {
      token: auth,
      body: { to: `+${waId}`, content: { type: 'text', text: { body: `hello ${waId}` } } },
    });
    expect(sent.statusCode, sent.body).toBe(202);
    const contact = (await gw.call('GET', `/api/v1/contacts?phone=${waId}`, { token: auth })).json()
      .contacts[0];
    conversations.push({ waId, contactId: contact.id as string, messageId: sent.json().id as string });
  }
  return {
    ws,
    auth,
    agent,
    viewer,
    conversations: conversations as [(typeof conversations)[0], (typeof conversations)[0]],
  };
}

const ids = (answer: { json(): { contacts: { id: string }[] } }) =>
  answer
    .json()
    .contacts.map((c) => c.id)
    .sort();

describe('conversation assignment', () => {
  it('shows an agent only the contacts assigned to them, with their messages and timeline; managers and viewers see all', async () => {
    const { auth, agent, viewer, conversations } = await setUp('asg');
    const [mine, theirs] = conversations;
    const as = (token: string, url: string) => gw.call('GET', url, { token });

    // Nothing assigned yet: the agent sees nothing, a viewer (read_all) sees both.
    expect(ids(await as(agent.token, '/api/v1/contacts'))).toEqual([]);
    expect(ids(await as(viewer.token, '/api/v1/contacts'))).toEqual(
      [mine.contactId, theirs.contactId].sort(),
    );
    expect((await as(agent.token, `/api/v1/contacts/${mine.contactId}`)).statusCode).toBe(404);
    expect((await as(agent.token, `/api/v1/messages/${mine.messageId}`)).statusCode).toBe(404);

    // Only conversations:assign may assign (agents may not), and only to a member.
    const byAgent = await gw.call('PUT', `/api/v1/contacts/${mine.contactId}/assignee/${agent.id}`, {
      token: agent.token,
    });
    expect(byAgent.statusCode).toBe(403);
    const stranger = await gw.call(
      'PUT',
      `/api/v1/contacts/${mine.contactId}/assignee/usr_nobodyAAAAAAAAAAAAA`,
      {
        token: auth,
      },
    );
    expect(stranger.statusCode).toBe(422);
    expect(stranger.json().error.code).toBe('ASSIGNEE_NOT_MEMBER');
    const assigned = await gw.call('PUT', `/api/v1/contacts/${mine.contactId}/assignee/${agent.id}`, {
      token: auth,
    });
    expect(assigned.statusCode, assigned.body).toBe(200);
    expect(assigned.json()).toEqual({ contactId: mine.contactId, assigneeId: agent.id });

    expect(ids(await as(agent.token, '/api/v1/contacts'))).toEqual([mine.contactId]);
    expect((await as(agent.token, `/api/v1/contacts?phone=${theirs.waId}`)).json().contacts).toEqual([]);
    expect((await as(agent.token, `/api/v1/contacts/${mine.contactId}`)).statusCode).toBe(200);
    expect((await as(agent.token, `/api/v1/contacts/${theirs.contactId}`)).statusCode).toBe(404);
    const timeline = await as(agent.token, `/api/v1/contacts/${mine.contactId}/messages`);
    expect(timeline.json().messages.map((m: { id: string }) => m.id)).toEqual([mine.messageId]);
    expect((await as(agent.token, `/api/v1/contacts/${theirs.contactId}/messages`)).statusCode).toBe(404);
    expect((await as(agent.token, `/api/v1/messages/${mine.messageId}`)).statusCode).toBe(200);
    expect((await as(agent.token, `/api/v1/messages/${theirs.messageId}`)).statusCode).toBe(404);
    const patch = await gw.call('PATCH', `/api/v1/contacts/${theirs.contactId}`, {
      token: agent.token,
      body: { name: 'not mine' },
    });
    expect(patch.statusCode).toBe(404);
    // Managers and owners still see everything.
    expect(ids(await as(auth, '/api/v1/contacts'))).toHaveLength(2);
    expect((await as(viewer.token, `/api/v1/messages/${theirs.messageId}`)).statusCode).toBe(200);

    const unassigned = await gw.call('DELETE', `/api/v1/contacts/${mine.contactId}/assignee`, {
      token: auth,
    });
    expect(unassigned.json()).toEqual({ contactId: mine.contactId, assigneeId: null });
    expect(ids(await as(agent.token, '/api/v1/contacts'))).toEqual([]);
  });

  it('streams an agent only the events of their conversations on GET /api/v1/events', async () => {
    const { ws, auth, agent, conversations } = await setUp('asgsse');
    const [mine, theirs] = conversations;
    await gw.call('PUT', `/api/v1/contacts/${mine.contactId}/assignee/${agent.id}`, { token: auth });
    const withWorkers = await startGateway(ctx, env, undefined, undefined, true);
    const events = createProducer('message.events.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: pino({ level: 'silent' }),
    });
    try {
      // The other conversation's event first: the agent's first event must still be theirs.
      for (const c of [theirs, mine]) {
        await events.add(
          {
            workspaceId: ws,
            messageId: c.messageId,
            wamid: `wamid.${randomBytes(8).toString('hex')}`,
            recipient: c.waId,
            status: 'sent',
            occurredAt: new Date().toISOString(),
            source: 'sender',
          },
          { jobId: jobIdOf(ws, c.messageId, 'sent') },
        );
      }
      const address = await withWorkers.app.listen({ port: 0, host: '127.0.0.1' });
      const everything = await readEvents(`${address}/api/v1/events`, auth, 2, '0-0');
      expect(everything.map((e) => e.data.messageId).sort()).toEqual(
        [mine.messageId, theirs.messageId].sort(),
      );
      const agentEvents = await readEvents(`${address}/api/v1/events`, agent.token, 1, '0-0');
      expect(agentEvents.map((e) => e.data.messageId)).toEqual([mine.messageId]);
      // Resuming after it, nothing else of the stream is the agent's.
      expect(agentEvents[0]?.id).toBe(everything.find((e) => e.data.messageId === mine.messageId)?.id);
    } finally {
      await events.close();
      await withWorkers.close();
    }
  }, 60_000);
});
