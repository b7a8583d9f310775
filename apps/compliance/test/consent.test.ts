import { checkSuppression, suppressionKey, suppressionReadyKey } from '@wapi/consent';
import type {
  ConsentSignalV1,
  ContactConsentResponse,
  MessageSendV1,
  SuppressionCheckResponse,
} from '@wapi/contracts';
import { createProducer, jobIdOf, type Producer } from '@wapi/service-kit';
import { useTestContext, waitFor } from '@wapi/testkit';
import type { Job } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ComplianceUnderTest, startCompliance } from './helpers';

const ctx = useTestContext('compliance');
const silent = pino({ level: 'silent' });

let compliance: ComplianceUnderTest;
let signals: Producer<'consent.signal.v1'>;
let sends: Producer<'message.send.v1'>;
let jobSeq = 0;

beforeAll(async () => {
  compliance = await startCompliance(ctx);
  const options = { connection: ctx.redis, prefix: ctx.prefix, log: silent };
  signals = createProducer('consent.signal.v1', options);
  sends = createProducer('message.send.v1', options);
});

afterAll(async () => {
  await signals?.close();
  await sends?.close();
  await compliance?.close();
});

/** Enqueues a signal as webhook-ingest would and waits until compliance has consumed it. */
async function deliver(signal: ConsentSignalV1): Promise<Job> {
  jobSeq += 1;
  const job = await signals.add(signal, { jobId: jobIdOf('test', signal.workspaceId, jobSeq) });
  return waitFor(
    async () => {
      const state = await job.getState();
      if (state === 'failed')
        throw new Error(`consent job failed: ${(await signals.queue.getJob(job.id!))?.failedReason}`);
      return state === 'completed' ? ((await signals.queue.getJob(job.id!)) ?? false) : false;
    },
    { what: `consent job ${job.id} to complete`, timeoutMs: 10_000 },
  );
}

function inboundText(ws: string, contact: string, wamid: string, text: string, at: string): ConsentSignalV1 {
  return {
    workspaceId: ws,
    contact,
    signal: 'inbound_text',
    scope: 'all',
    source: 'keyword',
    phoneNumberId: 'pn_1',
    evidence: { wamid, text },
    observedAt: at,
  };
}

async function confirmationsTo(ws: string, contact: string): Promise<MessageSendV1[]> {
  const jobs = await sends.queue.getJobs([
    'waiting',
    'delayed',
    'active',
    'completed',
    'failed',
    'prioritized',
  ]);
  return jobs.map((j) => j.data).filter((d) => d.workspaceId === ws && d.to === contact);
}

async function check(ws: string, contacts: string[], category: 'marketing' | 'utility') {
  const res = await compliance.call('POST', '/internal/v1/suppression/check', {
    workspaceId: ws,
    contacts,
    category,
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as SuppressionCheckResponse).suppressed.map((s) => s.suppressed);
}

async function consentOf(ws: string, contact: string): Promise<ContactConsentResponse> {
  const res = await compliance.call('GET', `/internal/v1/consent/${ws}/${contact}`);
  expect(res.statusCode).toBe(200);
  return res.json() as ContactConsentResponse;
}

describe('a customer writes "Stop." then "START", through the queue', () => {
  const ws = 'ws_e2e';
  const contact = '15551230001';
  const stop = inboundText(ws, contact, 'wamid.STOP1', 'Stop.', '2026-11-01T10:00:00.000Z');
  const stopAgain = inboundText(ws, contact, 'wamid.STOP2', 'STOP', '2026-11-01T10:01:00.000Z');
  const start = inboundText(ws, contact, 'wamid.START1', 'START', '2026-11-01T10:05:00.000Z');

  it('records the opt-out with evidence, queues one confirmation and suppresses within a second', async () => {
    const job = await deliver(stop);
    const suppressed = await check(ws, [contact], 'utility');
    const consumedAt = job.finishedOn!;
    expect(suppressed).toEqual([true]);
    expect(Date.now() - consumedAt).toBeLessThan(1_000);
    // The send path's own one-round-trip check agrees.
    const direct = await checkSuppression(ctx.redis, {
      prefix: ctx.prefix,
      workspaceId: ws,
      contacts: [contact],
      category: 'marketing',
    });
    expect(direct).toEqual({ ready: true, suppressed: [true] });

    const consent = await consentOf(ws, contact);
    expect(consent.states).toEqual([
      { scope: 'all', state: 'opted_out', since: stop.observedAt, source: 'keyword' },
    ]);
    expect(consent.history).toHaveLength(1);
    expect(consent.history[0]).toMatchObject({
      scope: 'all',
      signal: 'opt_out',
      source: 'keyword',
      effect: 'changed',
      evidence: { wamid: 'wamid.STOP1', text: 'Stop.' },
      observedAt: stop.observedAt,
    });

    const replies = await confirmationsTo(ws, contact);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({
      phoneNumberId: 'pn_1',
      to: contact,
      category: 'service',
      purpose: 'consent_confirmation',
      content: { type: 'text', text: { body: expect.stringMatching(/unsubscribed/) } },
    });
  });

  it('records a repeated STOP while opted out without a second confirmation', async () => {
    await deliver(stopAgain);
    const consent = await consentOf(ws, contact);
    expect(consent.history.map((h) => h.effect)).toEqual(['changed', 'unchanged']);
    expect(await confirmationsTo(ws, contact)).toHaveLength(1);
    expect(await check(ws, [contact], 'utility')).toEqual([true]);
  });

  it('re-enables the contact on START, with its own confirmation', async () => {
    await deliver(start);
    expect(await check(ws, [contact], 'utility')).toEqual([false]);
    expect(await check(ws, [contact], 'marketing')).toEqual([false]);
    const consent = await consentOf(ws, contact);
    expect(consent.states.map((s) => `${s.scope}:${s.state}`).sort()).toEqual([
      'all:opted_in',
      'marketing:opted_in',
    ]);
    const replies = await confirmationsTo(ws, contact);
    expect(replies).toHaveLength(2);
    expect(replies.map((r) => (r.content.type === 'text' ? r.content.text.body : '')).join('\n')).toMatch(
      /subscribed again/,
    );
  });

  it('changes nothing when the same events are delivered again', async () => {
    const before = await consentOf(ws, contact);
    // New job ids: the queue's own dedupe cannot help, only the ledger's idempotency.
    for (const signal of [stop, stopAgain, start]) await deliver(signal);
    const after = await consentOf(ws, contact);
    expect(after.history).toHaveLength(before.history.length);
    expect(after.states).toEqual(before.states);
    expect(await confirmationsTo(ws, contact)).toHaveLength(2);
    expect(await check(ws, [contact], 'utility')).toEqual([false]);
  });

  it('never queues a second confirmation, even once the queue forgot the first job', async () => {
    // The job id dedupes only while BullMQ keeps the job; the ledger's `confirmed` mark is the truth.
    await sends.queue.drain();
    expect(await confirmationsTo(ws, contact)).toHaveLength(0);
    await deliver(start);
    await deliver(stop);
    expect(await confirmationsTo(ws, contact)).toHaveLength(0);
  });

  it('audits each change in the workspace chain', async () => {
    await waitFor(
      async () => {
        const res = await compliance.call('GET', `/internal/v1/audit/${ws}/entries?targetId=${contact}`);
        const body = res.json() as { entries: { action: string }[] };
        return body.entries.length === 2 ? body : false;
      },
      { what: 'two consent audit entries' },
    );
    const res = await compliance.call('GET', `/internal/v1/audit/${ws}/entries?targetId=${contact}`);
    const { entries } = res.json() as { entries: { action: string; actor: { type: string } }[] };
    expect(entries.map((e) => e.action)).toEqual(['consent.opted_in', 'consent.opted_out']);
    expect(entries.every((e) => e.actor.type === 'contact')).toBe(true);
    const verify = await compliance.call('POST', `/internal/v1/audit/${ws}/verify`);
    expect(verify.json()).toMatchObject({ valid: true, checked: 2 });
  });
});

describe('keywords, languages and Meta signals', () => {
  const ws = 'ws_kw';

  it('confirms in the language of the keyword', async () => {
    const contact = '15551230002';
    await deliver(inboundText(ws, contact, 'wamid.ES1', '¡BAJA!', '2026-11-02T10:00:00.000Z'));
    const [reply] = await confirmationsTo(ws, contact);
    expect(reply?.content).toEqual({
      type: 'text',
      text: { body: expect.stringMatching(/^Has cancelado la suscripción/) },
    });
  });

  it('takes YES as opt-in only right after an opt-out', async () => {
    const fresh = '15551230003';
    await deliver(inboundText(ws, fresh, 'wamid.Y0', 'yes', '2026-11-02T10:00:00.000Z'));
    expect((await consentOf(ws, fresh)).history).toHaveLength(0);

    await deliver(inboundText(ws, fresh, 'wamid.Y1', 'stop', '2026-11-02T11:00:00.000Z'));
    await deliver(inboundText(ws, fresh, 'wamid.Y2', 'Yes!', '2026-11-02T11:02:00.000Z'));
    const consent = await consentOf(ws, fresh);
    expect(consent.history.filter((h) => h.scope === 'all').map((h) => h.signal)).toEqual([
      'opt_out',
      'opt_in',
    ]);
    expect(await check(ws, [fresh], 'utility')).toEqual([false]);
  });

  it('ignores ordinary sentences and answers HELP without changing consent', async () => {
    const contact = '15551230004';
    await deliver(
      inboundText(ws, contact, 'wamid.N1', 'please stop by the store', '2026-11-02T10:00:00.000Z'),
    );
    await deliver(inboundText(ws, contact, 'wamid.H1', 'HELP', '2026-11-02T10:01:00.000Z'));
    expect((await consentOf(ws, contact)).history).toHaveLength(0);
    const replies = await confirmationsTo(ws, contact);
    expect(replies).toHaveLength(1);
    expect(replies[0]?.content).toEqual({
      type: 'text',
      text: { body: expect.stringMatching(/Reply STOP/) },
    });
  });

  it('applies the marketing button, user_preferences and error 131050 to marketing only, without a reply for Meta signals', async () => {
    const [button, prefs, failed] = ['15551230005', '15551230006', '15551230007'];
    const base = {
      workspaceId: ws,
      signal: 'opt_out' as const,
      scope: 'marketing' as const,
      observedAt: '2026-11-02T12:00:00.000Z',
    };
    await deliver({
      ...base,
      contact: button,
      source: 'stop_promotions_button',
      phoneNumberId: 'pn_1',
      evidence: { wamid: 'wamid.B1', text: 'Stop promotions' },
    });
    await deliver({ ...base, contact: prefs, source: 'user_preferences', evidence: {} });
    await deliver({ ...base, contact: failed, source: 'error_131050', evidence: { wamid: 'wamid.F1' } });
    const contacts = [button, prefs, failed];
    expect(await check(ws, contacts, 'marketing')).toEqual([true, true, true]);
    expect(await check(ws, contacts, 'utility')).toEqual([false, false, false]);
    expect(await confirmationsTo(ws, button)).toHaveLength(1);
    expect(await confirmationsTo(ws, prefs)).toHaveLength(0);
    expect(await confirmationsTo(ws, failed)).toHaveLength(0);
  });

  it('matches a workspace keyword and uses its confirmation text', async () => {
    const contact = '15551230008';
    const put = await compliance.call('PUT', `/internal/v1/consent/${ws}/settings`, {
      keywords: { optOut: ['Basta ya'] },
      confirmations: { default: { optOut: 'Listo, no te escribiremos más.' } },
    });
    expect(put.statusCode).toBe(200);
    await deliver(inboundText(ws, contact, 'wamid.W1', 'basta ya!!', '2026-11-02T13:00:00.000Z'));
    expect(await check(ws, [contact], 'utility')).toEqual([true]);
    const [reply] = await confirmationsTo(ws, contact);
    expect(reply?.content).toEqual({ type: 'text', text: { body: 'Listo, no te escribiremos más.' } });
  });
});

describe('consent over internal HTTP and the suppression cache', () => {
  const ws = 'ws_api';

  it('applies an API change once per idempotency key', async () => {
    const body = {
      workspaceId: ws,
      contact: '15551230010',
      signal: 'opt_out',
      scope: 'all',
      source: 'import',
      actor: { type: 'user', id: 'usr_1' },
      note: 'paper form',
      idempotencyKey: 'import-7',
    };
    const first = await compliance.call('POST', '/internal/v1/consent/changes', body, 'message-sender');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ changed: true, states: [{ scope: 'all', state: 'opted_out' }] });
    const again = await compliance.call('POST', '/internal/v1/consent/changes', body);
    expect(again.json()).toMatchObject({ changed: true });
    const consent = await consentOf(ws, '15551230010');
    expect(consent.history).toHaveLength(1);
    expect(consent.history[0]?.evidence).toEqual({
      actor: 'user:usr_1 via message-sender',
      note: 'paper form',
    });
  });

  it('refuses a malformed check with 400 and names the problem', async () => {
    const res = await compliance.call('POST', '/internal/v1/suppression/check', {
      workspaceId: ws,
      contacts: ['not-a-number'],
      category: 'utility',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('rebuilds the Redis list from the ledger when Redis lost it', async () => {
    const contact = '15551230010';
    await ctx.redis.del(suppressionKey(ctx.prefix, ws), suppressionReadyKey(ctx.prefix));
    const direct = await checkSuppression(ctx.redis, {
      prefix: ctx.prefix,
      workspaceId: ws,
      contacts: [contact],
      category: 'utility',
    });
    expect(direct.ready).toBe(false);
    expect(await check(ws, [contact, '15551239999'], 'utility')).toEqual([true, false]);
    expect(await ctx.redis.exists(suppressionReadyKey(ctx.prefix))).toBe(1);
    expect(await ctx.redis.hget(suppressionKey(ctx.prefix, ws), contact)).toMatch(/^a:/);
  });
});
