import type { StatusObject } from '@wapi/contracts';
import { useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import type { Seed } from '../src/domain/seed';
import {
  APP_ID,
  baseSeed,
  CUSTOMER,
  closeAfterEachTest,
  type Harness,
  NUMBER_ID,
  startReceiver,
  startSandbox,
  TOKEN,
  WABA_ID,
} from './harness';

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const ctx = useTestContext('sbxengine');
let sbx: Harness | undefined;
closeAfterEachTest();

async function setUp(
  options: { env?: Record<string, string>; receiver?: Parameters<typeof startReceiver>[0] } = {},
) {
  const r = await startReceiver(options.receiver);
  sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: baseSeed(r.url), env: options.env ?? {} });
  return { sbx, receiver: r };
}

const openWindow = (h: Harness) =>
  h.control('POST', '/inbound', {
    phoneNumberId: NUMBER_ID,
    from: CUSTOMER,
    messages: [{ kind: 'text', text: 'hi' }],
  });

async function sendText(h: Harness): Promise<string> {
  const r = await h.graph('POST', `/${NUMBER_ID}/messages`, {
    messaging_product: 'whatsapp',
    to: CUSTOMER,
    text: { body: 'x' },
  });
  expect(r.status).toBe(200);
  return (r.json.messages as Array<{ id: string }>)[0]?.id ?? '';
}

const statusesOf = (r: Receiver, wamid: string) =>
  (r.statuses() as StatusObject[]).filter((s) => s.id === wamid).map((s) => s.status);

interface Recorded {
  wamid: string;
  at: number;
  statuses: Array<{ status: string; at: number }>;
}
async function recorded(h: Harness, wamid: string): Promise<Recorded> {
  const list = (await h.control('GET', `/messages?to=${CUSTOMER}`)).json.messages as Recorded[];
  const found = list.find((m) => m.wamid === wamid);
  if (!found) throw new Error(`no outbound ${wamid}`);
  return found;
}

const webhooks = async (h: Harness) =>
  (await h.control('GET', '/webhooks')).json as {
    stats: Record<string, number>;
    idle: boolean;
    deliveries: Array<{ attempts: number; state: string; lastResult: string; body: string }>;
  };

describe('status timings', () => {
  it('emits sent → delivered → read no earlier than the configured timings (40 / +80 / +120 ms) (ref §3.5, §12 status webhooks)', async () => {
    const { sbx, receiver } = await setUp();
    const set = await sbx.control('PUT', '/timings', {
      sentMs: 40,
      deliveredMs: 80,
      readMs: 120,
      deterministic: true,
    });
    expect(set.json).toEqual({ sentMs: 40, deliveredMs: 80, readMs: 120, deterministic: true });
    await openWindow(sbx);
    const wamid = await sendText(sbx);
    await waitFor(() => statusesOf(receiver, wamid).length === 3, { what: 'three statuses' });
    expect(statusesOf(receiver, wamid)).toEqual(['sent', 'delivered', 'read']);
    const m = await recorded(sbx, wamid);
    const [sent, delivered, read] = m.statuses;
    expect(m.statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    expect((sent?.at ?? 0) - m.at).toBeGreaterThanOrEqual(40);
    expect((delivered?.at ?? 0) - (sent?.at ?? 0)).toBeGreaterThanOrEqual(80);
    expect((read?.at ?? 0) - (delivered?.at ?? 0)).toBeGreaterThanOrEqual(120);
  });

  it('keeps non-deterministic jitter within −50 %: each delay at least half the configured one (ref §12 status webhooks)', async () => {
    const { sbx, receiver } = await setUp();
    await sbx.control('PUT', '/timings', { sentMs: 40, deliveredMs: 80, readMs: 120, deterministic: false });
    await openWindow(sbx);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await sendText(sbx));
    await waitFor(() => ids.every((id) => statusesOf(receiver, id).length === 3), { what: 'statuses' });
    for (const id of ids) {
      const m = await recorded(sbx, id);
      const [sent, delivered, read] = m.statuses;
      expect(m.statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
      expect((sent?.at ?? 0) - m.at).toBeGreaterThanOrEqual(20);
      expect((delivered?.at ?? 0) - (sent?.at ?? 0)).toBeGreaterThanOrEqual(40);
      expect((read?.at ?? 0) - (delivered?.at ?? 0)).toBeGreaterThanOrEqual(60);
    }
  });

  it('refuses bad timings and calls without the admin token (ref §12)', async () => {
    const { sbx } = await setUp();
    for (const body of [{ sentMs: -1 }, { deliveredMs: 'soon' }, { readMs: 1.5 }, { deterministic: 'yes' }]) {
      const r = await sbx.control('PUT', '/timings', body);
      expect(r.status).toBe(400);
      expect((r.json.error as { code: string }).code).toBe('VALIDATION_FAILED');
    }
    expect((await sbx.control('PUT', '/timings', { sentMs: 1 }, null)).status).toBe(401);
    expect((await sbx.control('PUT', '/timings', { sentMs: 1 }, TOKEN)).status).toBe(401);
  });
});

describe('retries', () => {
  it('retries a POST the receiver holds past SANDBOX_WEBHOOK_TIMEOUT_MS with the identical body (ref §3.6, §12 webhook delivery engine)', async () => {
    let heldBody = '';
    const { sbx, receiver } = await setUp({
      env: { SANDBOX_WEBHOOK_TIMEOUT_MS: '200' },
      receiver: {
        hold: (n, raw) => {
          if (n !== 1) return false;
          heldBody = raw;
          return true;
        },
      },
    });
    await openWindow(sbx);
    await waitFor(() => receiver.received.length === 1, { what: 'retried POST' });
    expect(receiver.posts()).toBe(2);
    expect(heldBody).not.toBe('');
    expect(receiver.received[0]?.raw).toBe(heldBody);
    expect(receiver.received[0]?.signatureOk).toBe(true);
    const hooks = await webhooks(sbx);
    expect(hooks.deliveries[0]).toMatchObject({ attempts: 2, state: 'delivered', lastResult: '200' });
    expect(hooks.stats.failedAttempts).toBe(1);
  });

  it('retries immediately, then after RETRY_BASE_MS × 2^(n-2), and gives up within the horizon (ref §3.6, §12)', async () => {
    const base = 20;
    const { sbx, receiver } = await setUp({
      env: { SANDBOX_WEBHOOK_RETRY_BASE_MS: String(base), SANDBOX_WEBHOOK_RETRY_HORIZON_MS: '1000' },
      receiver: { fail: () => true },
    });
    await openWindow(sbx);
    const h = sbx;
    await waitFor(async () => (await webhooks(h)).stats.givenUp === 1, { what: 'give up' });
    const hooks = await webhooks(sbx);
    expect(hooks.idle).toBe(true);
    const attempts = receiver.arrivals.length;
    expect(hooks.deliveries[0]).toMatchObject({ attempts, state: 'given-up' });
    // 0, 20, 40, 80, 160, 320 … : a give-up before the 4th attempt would mean the horizon was
    // cut short; the schedule fits 7 attempts in 1,000 ms.
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(7);
    for (let n = 1; n < attempts; n++) {
      const expected = n === 1 ? 0 : base * 2 ** (n - 1 - 1);
      expect((receiver.arrivals[n] ?? 0) - (receiver.arrivals[n - 1] ?? 0)).toBeGreaterThanOrEqual(expected);
    }
    // Every attempt resent the same bytes, and nothing comes after the give-up (idle above).
    expect(hooks.stats.failedAttempts).toBe(attempts);
  });
});

describe('reordering across statuses of one message (ref §3.6, §12 fault injection)', () => {
  const inOrder = (statuses: string[]) => statuses.join(',') === 'sent,delivered,read';

  it('delivers some message statuses out of order with reorder on, never with it off (ref §3.6, §12 fault injection)', async () => {
    // One POST at a time: arrival order is exactly the order the engine sends in.
    const { sbx, receiver } = await setUp({ env: { SANDBOX_WEBHOOK_CONCURRENCY: '1' } });
    await openWindow(sbx);
    const run = async () => {
      const ids: string[] = [];
      for (let i = 0; i < 15; i++) ids.push(await sendText(sbx));
      await waitFor(() => ids.every((id) => statusesOf(receiver, id).length === 3), { what: 'statuses' });
      return ids.map((id) => statusesOf(receiver, id));
    };
    expect((await sbx.control('PUT', '/faults', { reorder: true })).json).toMatchObject({ reorder: true });
    const shuffled = await run();
    for (const s of shuffled) expect([...s].sort()).toEqual(['delivered', 'read', 'sent']);
    expect(shuffled.filter((s) => !inOrder(s)).length).toBeGreaterThan(0);

    await sbx.control('PUT', '/faults', { reorder: false });
    const ordered = await run();
    expect(ordered.every(inOrder)).toBe(true);
  });

  it('refuses a non-boolean reorder and calls without the admin token (ref §12)', async () => {
    const { sbx } = await setUp();
    expect((await sbx.control('PUT', '/faults', { reorder: 'yes' })).status).toBe(400);
    expect((await sbx.control('PUT', '/faults', { reorder: true }, null)).status).toBe(401);
  });
});

describe('batching', () => {
  it('mixes statuses and messages in one POST (ref §3.6)', async () => {
    const { sbx, receiver } = await setUp({ env: { SANDBOX_WEBHOOK_BATCH_WINDOW_MS: '500' } });
    await openWindow(sbx);
    const wamid = await sendText(sbx);
    await waitFor(() => statusesOf(receiver, wamid).length === 3, { what: 'statuses' });
    const mixed = receiver.received.find((r) => {
      const values = r.body.entry.flatMap((e) => e.changes.map((c) => c.value));
      return values.some((v) => Array.isArray(v.messages)) && values.some((v) => Array.isArray(v.statuses));
    });
    expect(mixed?.signatureOk).toBe(true);
    // §3.6: each change in an entry item of its own, so one WABA appears in several entries.
    expect(mixed?.body.entry.length).toBeGreaterThan(1);
    expect(mixed?.body.entry.every((e) => e.id === WABA_ID && e.changes.length === 1)).toBe(true);
  });
});

describe('app callback URL verification (ref §3.1)', () => {
  const seedWith = (url: string, verifyToken: string): Seed => {
    const s = baseSeed();
    return {
      ...s,
      apps: [{ id: APP_ID, name: 'Test App', secret: 'app-secret-for-tests', callbackUrl: url, verifyToken }],
    };
  };

  it('verifies a seeded app callback URL with a verify token at start-up and refuses a failed handshake (ref §3.1, §12)', async () => {
    const good = await startReceiver({ verifyToken: 'vt-app' });
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: seedWith(good.url, 'vt-app') });
    expect(good.handshakes()).toBe(1);
    await openWindow(sbx);
    await waitFor(() => good.received.length === 1, { what: 'delivery to the verified app URL' });

    await expect(
      startSandbox({ redisUrl: ctx.infra.redisUrl, seed: seedWith(good.url, 'wrong') }),
    ).rejects.toThrow(/GET verification handshake/);
  });

  it('verifies callback URLs set through the control API; a failed handshake is refused with a clear error (ref §3.1, §12)', async () => {
    const { sbx, receiver: first } = await setUp();
    const next = await startReceiver({ verifyToken: 'vt-next' });

    // POST /apps and POST /world.
    const created = await sbx.control('POST', '/apps', {
      name: 'B',
      callbackUrl: next.url,
      verifyToken: 'vt-next',
    });
    expect(created.status).toBe(200);
    const refused = await sbx.control('POST', '/apps', {
      name: 'C',
      callbackUrl: next.url,
      verifyToken: 'nope',
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/GET verification handshake/),
    });
    const noToken = await sbx.control('POST', '/apps', { name: 'D', callbackUrl: next.url });
    expect(noToken.status).toBe(400);
    expect((noToken.json.error as { message: string }).message).toMatch(/verifyToken/);
    const world = await sbx.control('POST', '/world', {
      apps: [{ id: '100000000000077', callbackUrl: next.url, verifyToken: 'nope' }],
    });
    expect(world.status).toBe(400);
    expect((world.json.error as { message: string }).message).toMatch(/GET verification handshake/);
    expect(
      (
        await sbx.control('POST', '/world', {
          apps: [{ id: '100000000000078', callbackUrl: next.url, verifyToken: 'vt-next' }],
        })
      ).status,
    ).toBe(200);

    // PUT /apps/:id/webhook: refused keeps the old URL; accepted moves deliveries.
    const bad = await sbx.control('PUT', `/apps/${APP_ID}/webhook`, {
      callbackUrl: next.url,
      verifyToken: 'nope',
    });
    expect(bad.status).toBe(400);
    expect((bad.json.error as { message: string }).message).toMatch(/GET verification handshake/);
    await openWindow(sbx);
    await waitFor(() => first.received.length === 1, { what: 'old URL still used' });
    const ok = await sbx.control('PUT', `/apps/${APP_ID}/webhook`, {
      callbackUrl: next.url,
      verifyToken: 'vt-next',
    });
    expect(ok.json).toMatchObject({ id: APP_ID, callbackUrl: next.url, verifyToken: 'vt-next' });
    await openWindow(sbx);
    await waitFor(() => next.received.length === 1, { what: 'delivery to the new URL' });
    expect(first.received).toHaveLength(1);
    expect(next.handshakes()).toBe(6);

    // Bad input and authorisation.
    expect(
      (await sbx.control('PUT', '/apps/999/webhook', { callbackUrl: next.url, verifyToken: 'vt-next' }))
        .status,
    ).toBe(404);
    for (const body of [
      { callbackUrl: 'ftp://x', verifyToken: 'a' },
      { callbackUrl: next.url },
      { callbackUrl: next.url, verifyToken: '' },
    ]) {
      const r = await sbx.control('PUT', `/apps/${APP_ID}/webhook`, body);
      expect(r.status).toBe(400);
      expect((r.json.error as { code: string }).code).toBe('VALIDATION_FAILED');
    }
    expect(
      (
        await sbx.control(
          'PUT',
          `/apps/${APP_ID}/webhook`,
          { callbackUrl: next.url, verifyToken: 'vt-next' },
          null,
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await sbx.control(
          'PUT',
          `/apps/${APP_ID}/webhook`,
          { callbackUrl: next.url, verifyToken: 'vt-next' },
          TOKEN,
        )
      ).status,
    ).toBe(401);
  });
});

describe('override precedence (ref §8.3, §12)', () => {
  it('routes messages to the number override over the WABA override over the app URL (ref §8.3, §12)', async () => {
    const { sbx, receiver: app } = await setUp();
    const waba = await startReceiver({ verifyToken: 'vt-waba' });
    const number = await startReceiver({ verifyToken: 'vt-number' });
    expect(
      (
        await sbx.graph('POST', `/${WABA_ID}/subscribed_apps`, {
          override_callback_uri: waba.url,
          verify_token: 'vt-waba',
        })
      ).json,
    ).toEqual({ success: true });
    expect(
      (
        await sbx.graph('POST', `/${NUMBER_ID}`, {
          webhook_configuration: { override_callback_uri: number.url, verify_token: 'vt-number' },
        })
      ).json,
    ).toEqual({ success: true });
    await openWindow(sbx);
    await waitFor(() => number.received.length === 1, { what: 'number override delivery' });
    // Number override removed: the WABA override takes over.
    await sbx.graph('POST', `/${NUMBER_ID}`, { webhook_configuration: { override_callback_uri: '' } });
    await openWindow(sbx);
    await waitFor(() => waba.received.length === 1, { what: 'WABA override delivery' });
    expect(number.received).toHaveLength(1);
    expect(app.received).toHaveLength(0);
  });
});
