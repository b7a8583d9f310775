import { useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, followEvents, publicApi, type SandboxControl, sandboxControl } from '../src/api.mjs';
import type { MetaApp, Platform } from '../src/platform.mjs';
import { connectSandboxNumber, type SandboxNumber, worldSeed } from '../src/world.mjs';
import { dropPlatformDatabases, logTails, startSuitePlatform } from './setup';

// The platform as separately deployed processes (packages/e2e/README.md), driven through the
// public API only, plus the sandbox's control API, which plays the customers and Meta.
// 1. docs/walkthrough.md as assertions: sign up, an API key, a connected number, a template sent
//    and read, the customer writes, the answer within the window is read, STOP, the next send
//    refused, the audit trail read and verified.
// 2. A mixed run: templates and replies over several numbers with duplicated and reordered
//    webhooks, ending with every message in its final state at wapi and at Meta, every inbound
//    stored once, and the audit chain verifying.
// One platform for both (starting nine processes costs ~15 s on two cores); each its own workspace.
const ctx = useTestContext('e2e');
let platform: Platform;
let metaApp: MetaApp;
let crashes: string[];
let sandbox: SandboxControl;
const startedAt = Date.now();

const NUMBER: SandboxNumber = {
  phoneNumberId: '910000000000001',
  wabaId: '920000000000001',
  businessId: '925000000000001',
  display: '15550170001',
  verifiedName: 'Walkthrough Shop',
  accessToken: `EAAe2e${'w'.repeat(40)}`,
};
const CUSTOMER = { waId: '15550181001', name: 'Casey' };

beforeAll(async () => {
  ({ platform, metaApp, crashes } = await startSuitePlatform(ctx));
  sandbox = sandboxControl(platform.url('meta-sandbox'), platform.sandboxAdminToken);
  await sandbox.applyWorld(
    worldSeed({
      app: metaApp,
      callbackUrl: platform.webhookUrl,
      numbers: [NUMBER],
      customers: [CUSTOMER],
    }),
  );
  console.log(`[e2e] platform up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await platform?.stop();
  await dropPlatformDatabases(ctx);
  console.log(`[e2e] the suite took ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
});

/** Waits until the message reaches `status`, and returns it. */
async function messageReaches(api: Api, id: string, status: string) {
  let last: unknown;
  return waitFor(
    async () => {
      const message = await api.get(`/api/v1/messages/${id}`);
      last = message;
      return message.status === status ? message : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100, what: `message ${id} to reach ${status}` },
  ).catch(async (error) => {
    const atMeta = await sandbox.sentMessages().catch(() => []);
    throw new Error(
      `${error.message}\nlast seen: ${JSON.stringify(last)}\nat the sandbox: ${JSON.stringify(atMeta)}\n${logTails()}`,
    );
  });
}

describe('the walkthrough, end to end across six separate services', () => {
  let owner: Api;
  let api: Api;
  let contactId: string;

  it('signs up, creates an API key and connects a sandbox number', async () => {
    const anonymous = publicApi(platform.url('gateway'));
    const signup = await anonymous.post('/api/v1/auth/signup', {
      email: 'owner@walkthrough.test',
      password: 'correct horse battery staple',
      name: 'Owner',
      workspaceName: 'Walkthrough Shop',
    });
    owner = anonymous.as(signup.tokens.accessToken);
    const created = await owner.post('/api/v1/api-keys', { name: 'backend', role: 'manager' });
    expect(created.key).toMatch(/^wapi_[0-9A-Za-z]{50}$/);
    api = anonymous.as(created.key);

    contactId = (await api.post('/api/v1/contacts', { phone: `+${CUSTOMER.waId}`, name: CUSTOMER.name })).id;
    const number = await connectSandboxNumber(owner, NUMBER, { sandbox, appId: metaApp.appId });
    // The portfolio came from the flow's event (the front end passes it on with the callback).
    expect(number).toMatchObject({
      phoneNumberId: NUMBER.phoneNumberId,
      status: 'connected',
      businessId: NUMBER.businessId,
    });
    const listed = await api.get('/api/v1/phone-numbers');
    expect(listed.phoneNumbers.map((n: { phoneNumberId: string }) => n.phoneNumberId)).toEqual([
      NUMBER.phoneNumberId,
    ]);
  });

  it('creates a template, sees Meta approve it, sends it and sees it sent, delivered and read', async () => {
    const created = await api.post('/api/v1/templates', {
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'Your order has shipped.' }],
    });
    expect(created).toMatchObject({ status: 'PENDING', wabaId: NUMBER.wabaId });
    // Meta's review ends with a message_template_status_update webhook: sandbox -> webhook-ingest
    // (routed by the WABA directory gateway publishes) -> account.update.v1 -> gateway. No sync.
    let seen: unknown;
    await waitFor(
      async () => {
        const { templates } = await api.get('/api/v1/templates?name=order_update&language=en_US');
        seen = templates;
        return templates[0]?.status === 'APPROVED';
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the approval webhook applied at wapi' },
    ).catch((error) => {
      throw new Error(`${error.message}; last seen ${JSON.stringify(seen)}`);
    });
    const accepted = await api.post('/api/v1/messages', {
      to: `+${CUSTOMER.waId}`,
      category: 'utility',
      content: { type: 'template', template: { name: 'order_update', language: 'en_US' } },
    });
    const message = await messageReaches(api, accepted.id, 'read');
    expect(message.history.map((h: { status: string }) => h.status)).toEqual(
      expect.arrayContaining(['accepted', 'sent', 'delivered', 'read']),
    );
    expect(message.contactId).toBe(contactId);
    // Meta (the sandbox) got it exactly once, under the wamid wapi recorded.
    const atMeta = await sandbox.sentMessages({ to: CUSTOMER.waId });
    expect(atMeta.map((m) => m.wamid)).toEqual([message.wamid]);
  });

  it('stores the customer’s message once and opens the customer-service window', async () => {
    const wamid = await sandbox.inboundText(NUMBER.phoneNumberId, CUSTOMER.waId, 'Where is my parcel?');
    const timeline = await waitFor(
      async () => {
        const t = await api.get(`/api/v1/contacts/${contactId}/messages`);
        return t.messages.some((m: { wamid: string }) => m.wamid === wamid) && t.windowExpiresAt
          ? t
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the inbound message in the contact timeline' },
    );
    const inbound = timeline.messages.filter((m: { direction: string }) => m.direction === 'inbound');
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({ wamid, status: 'received', contentType: 'text' });
    expect(Date.parse(timeline.windowExpiresAt)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
  });

  it('answers within the window and sees sent, delivered and read', async () => {
    const accepted = await api.post('/api/v1/messages', {
      contactId,
      content: { type: 'text', text: { body: 'It is on its way and arrives tomorrow.' } },
    });
    const message = await messageReaches(api, accepted.id, 'read');
    expect(message.history.map((h: { status: string }) => h.status)).toEqual(
      expect.arrayContaining(['sent', 'delivered', 'read']),
    );
    const atMeta = await sandbox.sentMessages({ to: CUSTOMER.waId });
    expect(atMeta.filter((m) => m.wamid === message.wamid)).toHaveLength(1);
  });

  it('records the customer’s STOP and refuses the next send with CONTACT_OPTED_OUT', async () => {
    await sandbox.inboundText(NUMBER.phoneNumberId, CUSTOMER.waId, 'STOP');
    await waitFor(
      async () => {
        const consent = await api.get(`/api/v1/contacts/${contactId}/consent`);
        return consent.states.some(
          (s: { scope: string; state: string }) => s.scope === 'all' && s.state === 'opted_out',
        );
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the opt-out in the consent ledger' },
    );
    const refused = await api.request('POST', '/api/v1/messages', {
      contactId,
      content: { type: 'text', text: { body: 'One more thing…' } },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('CONTACT_OPTED_OUT');
    // The customer got one confirmation of the opt-out, from the number they wrote to.
    await waitFor(
      async () =>
        (await sandbox.sentMessages({ to: CUSTOMER.waId })).filter(
          (m) => m.type === 'text' && JSON.stringify(m.payload).toLowerCase().includes('unsubscribed'),
        ).length === 1,
      { timeoutMs: 20_000, intervalMs: 200, what: 'the opt-out confirmation at the customer' },
    );
  });

  it('reads the audit trail of all of it and verifies its hash chain', async () => {
    const entries = await waitFor(
      async () => {
        const page = await api.get('/api/v1/audit-logs?limit=100');
        const actions = page.entries.map((e: { action: string }) => e.action);
        return actions.includes('POST /api/v1/api-keys') &&
          (actions.includes('POST /api/v1/onboarding/esb/callback') ||
            actions.includes('POST /api/v1/phone-numbers')) &&
          actions.includes('POST /api/v1/templates') &&
          actions.filter((a: string) => a === 'POST /api/v1/messages').length >= 3
          ? page.entries
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the API calls in the audit log' },
    );
    expect(entries.length).toBeGreaterThanOrEqual(5);
    const verified = await api.post('/api/v1/audit-logs/verify');
    expect(verified).toMatchObject({ valid: true, broken: null });
    expect(verified.checked).toBe(verified.lastSeq - verified.firstSeq + 1);
    expect(verified.checked).toBeGreaterThanOrEqual(entries.length);
    expect(crashes, 'no service process exited').toEqual([]);
  });
});

/** Runs `work` over `items`, at most `limit` at once. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i] as T);
      }
    }),
  );
  return out;
}

interface TimelineMessage {
  id: string;
  direction: 'inbound' | 'outbound';
  wamid: string | null;
  status: string;
  history: { status: string }[];
}

describe('a mixed run across several numbers with duplicated and reordered webhooks', () => {
  // The size; E2E_MESSAGES scales it (about 40 s for 5,000 on the 2-core machine).
  const TOTAL = Number(process.env.E2E_MESSAGES ?? 5_000);
  const CUSTOMERS = 250;
  const numbers: SandboxNumber[] = [0, 1, 2, 3].map((i) => ({
    phoneNumberId: `93000000000000${i}`,
    wabaId: `94000000000000${i >> 1}`,
    // One business with two WABAs: the messaging limit is counted for both together.
    businessId: '945000000000001',
    display: `1555019000${i}`,
    verifiedName: `Mixed ${i}`,
    // one token per WABA, as a system user's token covers its business's WABAs
    accessToken: `EAAmixed${i >> 1}${'m'.repeat(40)}`,
  }));
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => ({
    waId: `1555030${String(i).padStart(4, '0')}`,
    name: `Customer ${i}`,
    number: numbers[i % numbers.length] as SandboxNumber,
    // Every other customer writes first: they get free-form replies within their window, the
    // others get templates.
    writesFirst: i % 2 === 0,
  }));

  it(`sends ${TOTAL} messages and ends with each read once at Meta, every inbound stored once and the chain verifying`, async () => {
    const t0 = Date.now();
    const anonymous = publicApi(platform.url('gateway'));
    const signup = await anonymous.post('/api/v1/auth/signup', {
      email: 'owner@mixed.test',
      password: 'correct horse battery staple',
      name: 'Owner',
      workspaceName: 'Mixed Run',
    });
    const owner = anonymous.as(signup.tokens.accessToken);
    const key = (await owner.post('/api/v1/api-keys', { name: 'load', role: 'manager' })).key;
    const api = anonymous.as(key);
    // Progress is watched on the workspace's live events, as a client would (cheap); what the
    // events say is then checked once against the stored messages.
    const live = await followEvents(platform.url('gateway'), key);
    const seen = (type: string, status?: string) =>
      new Set(
        live.received
          .filter((e) => e.type === type && (status === undefined || e.status === status))
          .map((e) => e.messageId),
      );
    await sandbox.applyWorld(
      worldSeed({
        app: metaApp,
        appExists: true,
        callbackUrl: platform.webhookUrl,
        numbers,
        customers,
        templates: [0, 1].map((w) => ({
          wabaId: `94000000000000${w}`,
          name: `shipping_update_${w}`,
          language: 'en_US',
          category: 'UTILITY' as const,
          body: 'Your parcel is on its way.',
        })),
      }),
    );
    for (const number of numbers)
      await connectSandboxNumber(owner, number, { sandbox, appId: metaApp.appId });
    // The templates were approved at Meta before wapi knew the numbers: a sync imports them.
    expect((await api.post('/api/v1/templates/sync')).synced).toBe(2);
    await sandbox.setFaults({ duplicateRate: 0.3, reorder: true });

    const contactIds = await mapLimit(customers, 8, async (c) => {
      const created = await api.request('POST', '/api/v1/contacts', { phone: `+${c.waId}`, name: c.name });
      if (created.status !== 201)
        throw new Error(`contact ${c.waId}: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body.id as string;
    });

    // The customers who write first send two messages each, to the number they belong to.
    const inboundOf = new Map<string, string[]>();
    await mapLimit(
      customers.filter((c) => c.writesFirst),
      8,
      async (c) => {
        const ids = await sandbox.inbound({
          phoneNumberId: c.number.phoneNumberId,
          from: c.waId,
          name: c.name,
          messages: [
            { kind: 'text', text: `Hello from ${c.name}` },
            { kind: 'text', text: `Any news about order ${c.waId}?` },
          ],
        });
        inboundOf.set(c.waId, ids);
      },
    );
    const timelines = async () =>
      mapLimit(
        contactIds,
        16,
        async (id) =>
          (await api.get(`/api/v1/contacts/${id}/messages`)) as {
            messages: TimelineMessage[];
            windowExpiresAt: string | null;
          },
      );
    await waitFor(
      async () =>
        (await timelines()).every((t, i) => {
          const c = customers[i]!;
          if (!c.writesFirst) return true;
          return (
            t.windowExpiresAt !== null && t.messages.filter((m) => m.direction === 'inbound').length >= 2
          );
        }),
      { timeoutMs: 60_000, intervalMs: 500, what: 'every inbound message stored and its window open' },
    );
    const tInbound = Date.now();

    // Replies within the window to those who wrote, templates to the others; sent in batches.
    const sends = Array.from({ length: TOTAL }, (_, k) => {
      const i = k % CUSTOMERS;
      const c = customers[i]!;
      return {
        contactId: contactIds[i]!,
        phoneNumberId: c.number.phoneNumberId,
        ...(c.writesFirst
          ? {
              category: 'service',
              content: { type: 'text', text: { body: `Reply ${k}: your order ships today.` } },
            }
          : {
              category: 'utility',
              content: {
                type: 'template',
                template: { name: `shipping_update_${Number(c.number.wabaId.slice(-1))}`, language: 'en_US' },
              },
            }),
      };
    });
    const accepted: string[] = [];
    for (let from = 0; from < sends.length; from += 500) {
      const batch = await api.post('/api/v1/messages/batch', { messages: sends.slice(from, from + 500) });
      const refused = batch.results.filter((r: { error?: unknown }) => r.error);
      expect(refused, 'no send refused').toEqual([]);
      accepted.push(...batch.results.map((r: { id: string }) => r.id));
    }
    expect(accepted).toHaveLength(TOTAL);
    const tAccepted = Date.now();

    let last: Awaited<ReturnType<typeof timelines>> = [];
    // The stored messages (250 timelines, each a scan on FerretDB: load the run would feel) are
    // read in full when the events say every message is read, or when the events have shown
    // no progress for 15 s (an event the stream did not show must not hang the run).
    let progress = { count: 0, at: Date.now() };
    await waitFor(
      async () => {
        const read = seen('message.status', 'read');
        if (read.size !== progress.count) progress = { count: read.size, at: Date.now() };
        const allSeen = accepted.every((id) => read.has(id));
        if (!allSeen && Date.now() - progress.at < 15_000) return false;
        progress.at = Date.now();
        last = await timelines();
        const outbound = last.flatMap((t) => t.messages.filter((m) => m.direction === 'outbound'));
        return outbound.length === TOTAL && outbound.every((m) => m.status === 'read');
      },
      { timeoutMs: 180_000, intervalMs: 250, what: `all ${TOTAL} messages read` },
    ).catch(async (error) => {
      last = await timelines();
      const counts: Record<string, number> = {};
      for (const m of last.flatMap((t) => t.messages)) counts[m.status] = (counts[m.status] ?? 0) + 1;
      const atMeta = await sandbox.sentMessages();
      const behind = last
        .flatMap((t) => t.messages)
        .filter((m) => m.direction === 'outbound' && m.status !== 'read')
        .slice(0, 3)
        .map((m) => ({ wapi: m, meta: atMeta.find((x) => x.wamid === m.wamid)?.statuses }));
      const ingest = await Promise.all(
        platform.services
          .filter((svc) => svc.name === 'webhook-ingest')
          .map((svc) =>
            fetch(`${svc.url}/internal/v1/webhook/stats`, {
              headers: { authorization: `Bearer ${platform.token('gateway', 'webhook-ingest')}` },
            }).then((r) => r.json()),
          ),
      );
      console.log(
        `[e2e] not read: ${JSON.stringify(behind)}\n[e2e] webhook-ingest stats: ${JSON.stringify(ingest)}`,
      );
      const dead = await fetch(`${platform.url('message-sender')}/internal/v1/dead-letters?limit=5`, {
        headers: { authorization: `Bearer ${platform.token('gateway', 'message-sender')}` },
      }).then((r) => r.text());
      throw new Error(
        `${error.message}; statuses at wapi: ${JSON.stringify(counts)}; at Meta: ${atMeta.length} received; ` +
          `dead letters: ${dead.slice(0, 1_500)}\n${logTails()}`,
      );
    });
    const tRead = Date.now();

    // wapi: each accepted message once, read, having been sent and delivered; each inbound once.
    const outbound = last.flatMap((t) => t.messages.filter((m) => m.direction === 'outbound'));
    expect(new Set(outbound.map((m) => m.id))).toEqual(new Set(accepted));
    for (const m of outbound)
      expect(new Set(m.history.map((h) => h.status)), m.id).toEqual(
        new Set(['accepted', 'sent', 'delivered', 'read']),
      );
    last.forEach((t, i) => {
      const c = customers[i]!;
      const inbound = t.messages.filter((m) => m.direction === 'inbound').map((m) => m.wamid);
      expect(inbound.sort(), c.waId).toEqual([...(inboundOf.get(c.waId) ?? [])].sort());
    });

    // Meta: each message received exactly once, under the wamid wapi recorded.
    const atMeta = (await sandbox.sentMessages()).filter((m) =>
      numbers.some((n) => n.phoneNumberId === m.phoneNumberId),
    );
    expect(atMeta).toHaveLength(TOTAL);
    expect(new Set(atMeta.map((m) => m.wamid))).toEqual(new Set(outbound.map((m) => m.wamid)));
    // The faults were really on: the sandbox sent duplicate webhook POSTs.
    const hooks = await sandbox.request('GET', '/webhooks?limit=1');
    expect(hooks.stats.duplicates).toBeGreaterThan(0);

    const verified = await api.post('/api/v1/audit-logs/verify');
    expect(verified).toMatchObject({ valid: true, broken: null });
    live.close();
    expect(crashes, 'no service process exited').toEqual([]);

    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    // Where the time went: Meta's side (sends accepted, statuses produced) against wapi's.
    const metaSent = Math.max(...atMeta.map((m) => m.at));
    const metaRead = Math.max(...atMeta.flatMap((m) => m.statuses.map((st: { at: number }) => st.at)));
    console.log(
      `[e2e] mixed run: ${TOTAL} messages over ${numbers.length} numbers, ${inboundOf.size * 2} inbound, ` +
        `${hooks.stats.posts} webhook POSTs (${hooks.stats.duplicates} duplicates): set-up and inbound ${s(t0, tInbound)} s, ` +
        `accepted in ${s(tInbound, tAccepted)} s, all read ${s(tAccepted, tRead)} s after (the last reached Meta ${s(tAccepted, metaSent)} s and was read there ${s(tAccepted, metaRead)} s after acceptance; ${(TOTAL / ((tRead - tInbound) / 1000)).toFixed(0)} msg/s end to end)`,
    );
  });
});
