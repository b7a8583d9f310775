import { randomBytes } from 'node:crypto';
import type { MessageEventV1 } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { deleteKeys, useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import { applyMessageEvents } from '../src/messaging/apply-events';
import { messageView } from '../src/messaging/message-routes';
import { mergeState, messageStateStore } from '../src/messaging/message-state';
import { type MessageDoc, messagingRepositories, withoutWorkspace } from '../src/messaging/repositories';

const ctx = useTestContext('gwconv');
// ctx.db and ctx.redis exist once the context's beforeAll ran.
const repos = () => messagingRepositories(ctx.db);
const store = () => messageStateStore({ redis: ctx.redis, prefix: ctx.prefix, repos: repos() });

const MESSAGES = 500;

/** A seeded shuffle (mulberry32), so a failure can be replayed. */
function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** 500 accepted messages of a fresh workspace and their in-order event stream (1,800 events). */
async function scenario(label: string, base: number) {
  const ws = asWorkspaceId(`ws_${label}${randomBytes(6).toString('hex')}`);
  const docs: MessageDoc[] = Array.from({ length: MESSAGES }, (_, i) => ({
    _id: `msg_${ws.slice(3, 17)}${String(i).padStart(8, '0')}`,
    workspaceId: ws,
    direction: 'outbound',
    phoneNumberId: '1',
    waId: '14155550100',
    contactId: `ct_${'A'.repeat(22)}`,
    wamid: null,
    status: 'accepted',
    statusRank: 0,
    category: 'service',
    contentType: 'text',
    content: { type: 'text', text: { body: 'hi' } },
    replyToWamid: null,
    history: [{ status: 'accepted', at: new Date(base) }],
    error: null,
    requestHash: null,
    createdAt: new Date(base),
  }));
  await repos().messages.insertMany(ws, docs.map(withoutWorkspace));
  const events: MessageEventV1[] = [];
  docs.forEach((doc, i) => {
    const wamid = `wamid.${ws}.${i}`;
    const at = (s: number) => new Date(base + i * 10_000 + s * 1_000).toISOString();
    // The sender's `sent` names both ids; webhook statuses name the wamid only.
    events.push({
      workspaceId: ws,
      messageId: doc._id,
      wamid,
      recipient: doc.waId,
      status: 'sent',
      occurredAt: at(1),
      source: 'sender',
    });
    // Meta's own `sent`, `delivered` and `read` follow; every tenth message then fails.
    events.push({
      workspaceId: ws,
      wamid,
      recipient: doc.waId,
      status: 'sent',
      occurredAt: at(1),
      source: 'webhook',
    });
    events.push({
      workspaceId: ws,
      wamid,
      recipient: doc.waId,
      status: 'delivered',
      occurredAt: at(2),
      source: 'webhook',
    });
    if (i % 2 === 0) {
      events.push({
        workspaceId: ws,
        wamid,
        recipient: doc.waId,
        status: 'read',
        occurredAt: at(3),
        source: 'webhook',
      });
    }
    if (i % 10 === 5) {
      events.push({
        workspaceId: ws,
        wamid,
        recipient: doc.waId,
        status: 'failed',
        occurredAt: at(4),
        source: 'webhook',
        error: { code: 131026, title: 'Message undeliverable' },
      });
    }
  });
  return { ws, events };
}

/** Applies `stream` in batches of `size`, re-queueing what could not be applied yet; bounded. */
async function applyAll(stream: MessageEventV1[], size: number): Promise<number> {
  const started = performance.now();
  let queue = stream;
  let rounds = 0;
  while (queue.length > 0) {
    rounds += 1;
    if (rounds > 200) throw new Error(`did not converge: ${queue.length} events left`);
    const batch = queue.slice(0, size);
    const { unresolved } = await applyMessageEvents(store(), batch);
    queue = [...queue.slice(size), ...unresolved];
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `applied ${stream.length} events in ${rounds} batches, ${Math.round(stream.length / seconds)}/s`,
  );
  return rounds;
}

/** Every message as `GET /api/v1/messages/:id` shows it (document merged with its state). */
async function finalState(ws: string) {
  const docs = await repos().messages.find(asWorkspaceId(ws), {}, { sort: { _id: 1 } });
  const states = await store().states(asWorkspaceId(ws), docs, new Date());
  return docs.map((d) => {
    const m = messageView(mergeState(d, states.get(d._id)));
    return {
      n: m.id.slice(-8),
      status: m.status,
      wamid: m.wamid?.replace(ws, 'WS') ?? null,
      error: m.error,
      history: m.history.map((h) => `${h.status}@${h.at}`),
    };
  });
}

describe('applying message.events.v1', () => {
  it('converges on the in-order state from a shuffled, duplicated stream of 10,000 events', async () => {
    // Messages created after this Redis began holding state: their state is read from Redis
    // alone (what the script wrote), not rebuilt.
    const base = Date.now() + 3_600_000;
    const inOrder = await scenario('ord', base);
    const shuffled = await scenario('shf', base);
    await applyAll(inOrder.events, 2_000);
    // Every event six times, in a random order: 10,800 deliveries (at-least-once, unordered).
    const stream = shuffle(Array.from({ length: 6 }, () => shuffled.events).flat(), 20_261_129);
    expect(stream.length).toBeGreaterThanOrEqual(10_000);
    await applyAll(stream, 2_000);
    const expected = await finalState(inOrder.ws);
    expect(expected.filter((m) => m.status === 'read')).toHaveLength(250);
    expect(expected.filter((m) => m.status === 'delivered')).toHaveLength(200);
    expect(expected.filter((m) => m.status === 'failed')).toHaveLength(50);
    expect(await finalState(shuffled.ws)).toEqual(expected);
    // The durable record holds the same state: rebuilt from it, every message reads the same.
    await deleteKeys(ctx.redis, `${ctx.prefix}:{gw-msg-state}:*`);
    expect(await finalState(shuffled.ws)).toEqual(expected);
  }, 120_000);

  it('rebuilds the state from the durable record after Redis lost it, even with events applied since', async () => {
    // Messages created before Redis lost its data (any creation time before the loss).
    const { ws, events } = await scenario('rdl', Date.UTC(2026, 0, 1));
    await applyAll(events, 1_000);
    const before = await finalState(ws);
    expect(before.filter((m) => m.status === 'read')).toHaveLength(250);
    expect(before.every((m) => m.wamid !== null && m.history.length >= 3)).toBe(true);
    // Redis loses everything of this service (a flush of its keys, epoch included) ...
    expect(await deleteKeys(ctx.redis, `${ctx.prefix}:{gw-msg-state}:*`)).toBeGreaterThan(0);
    // ... and duplicates of some events arrive meanwhile, creating partial states in Redis.
    await applyAll(
      events.filter((_, i) => i % 7 === 0),
      1_000,
    );
    expect(await finalState(ws)).toEqual(before);
    // The wamid map is rebuilt too: a webhook status naming only a wamid still resolves.
    await deleteKeys(ctx.redis, `${ctx.prefix}:{gw-msg-state}:*`);
    const late = events.filter((e) => !e.messageId).slice(0, 50);
    const { unresolved } = await applyMessageEvents(store(), late);
    expect(unresolved).toEqual([]);
    expect(await finalState(ws)).toEqual(before);
  }, 120_000);
});
