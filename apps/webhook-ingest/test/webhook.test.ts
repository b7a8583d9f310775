import { createHmac } from 'node:crypto';
import { windowKey } from '@wapi/contracts';
import {
  inboundTextMessage,
  messagesChange,
  metaJsonEncode,
  newWamid,
  signedWebhook,
  signWebhook,
  statusUpdate,
  userPreferences,
  useTestContext,
  webhookChange,
  webhookEnvelope,
} from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSignature } from '../src/signature';
import {
  connectNumber,
  type IngestUnderTest,
  jobsIn,
  SECRET_NEW,
  SECRET_OLD,
  startIngest,
  VERIFY_TOKEN,
} from './helpers';

const ctx = useTestContext('whingest');
let ingest: IngestUnderTest;
const WS = 'ws_main';
const PNID = '106540352242922';

beforeAll(async () => {
  ingest = await startIngest(ctx);
  await connectNumber(ctx, PNID, WS);
});
afterAll(() => ingest?.close());

const post = (body: string | Buffer, headers: Record<string, string>) =>
  ingest.app.inject({ method: 'POST', url: '/api/v1/webhook', payload: body, headers });
const journalCount = () => ctx.db.collection('webhook_journal').countDocuments();
const processed = async () => {
  await ingest.app.webhookProcessor?.idle();
};

describe('GET handshake', () => {
  it('echoes the challenge as plain text for the right token, 403 otherwise', async () => {
    const ok = await ingest.app.inject({
      url: `/api/v1/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('1158201444');
    expect(ok.headers['content-type']).toMatch(/^text\/plain/);
    for (const qs of [
      'hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1',
      'hub.mode=unsubscribe&hub.verify_token=verify-token-for-tests&hub.challenge=1',
      'hub.mode=subscribe&hub.challenge=1',
      '',
    ]) {
      const res = await ingest.app.inject({ url: `/api/v1/webhook?${qs}` });
      expect(res.statusCode, qs).toBe(403);
      expect(res.json().error.code).toBe('WEBHOOK_VERIFY_TOKEN_INVALID');
      expect(res.body).not.toContain('verify-token-for-tests');
    }
  });
});

describe('POST signature', () => {
  const envelope = () =>
    webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          statuses: [statusUpdate({ wamid: newWamid(), status: 'sent' })],
        }),
      ],
    });

  it('refuses missing, malformed, sha1-only and wrong signatures with 401 and stores nothing', async () => {
    const before = await journalCount();
    const body = metaJsonEncode(envelope());
    const sha1 = `sha1=${createHmac('sha1', SECRET_NEW).update(body).digest('hex')}`;
    const cases: Record<string, string>[] = [
      {},
      { 'x-hub-signature-256': 'sha256=' },
      { 'x-hub-signature-256': 'sha256=xyz' },
      { 'x-hub-signature-256': signWebhook(body, SECRET_NEW).slice(0, -2) }, // 62 hex digits: malformed
      { 'x-hub-signature-256': signWebhook(body, SECRET_NEW).replace('sha256=', 'sha512=') },
      { 'x-hub-signature': sha1 },
      { 'x-hub-signature-256': sha1 },
      { 'x-hub-signature-256': signWebhook(body, 'another-app-secret') },
      { 'x-hub-signature-256': signWebhook(`${body} `, SECRET_NEW) },
    ];
    for (const headers of cases) {
      const res = await post(body, { 'content-type': 'application/json', ...headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json().error.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    }
    expect(await journalCount()).toBe(before);
    const stats = (await ingest.internal('GET', '/internal/v1/webhook/stats')).json() as {
      rejected: Record<string, number>;
    };
    expect(stats.rejected).toEqual({ missing: 1, sha1_only: 2, malformed: 4, mismatch: 2 });
  });

  it('accepts a body signed with any active secret, and answers 413 over 3 MB', async () => {
    for (const secret of [SECRET_OLD, SECRET_NEW]) {
      const { body, headers } = signedWebhook(envelope(), secret);
      expect((await post(body, headers)).statusCode).toBe(200);
    }
    const big = Buffer.alloc(3 * 1024 * 1024 + 1, 0x20);
    const res = await post(big, {
      'content-type': 'application/json',
      'x-hub-signature-256': signWebhook(big, SECRET_NEW),
    });
    expect(res.statusCode).toBe(413);
  });

  it('rejects 10,000 randomly mutated signed bodies and accepts every valid one', () => {
    const secrets = [SECRET_OLD, SECRET_NEW];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const body = Buffer.from(metaJsonEncode(envelope()));
      const header = signWebhook(body, secrets[i % 2] as string);
      expect(checkSignature(body, header, secrets)).toBeUndefined();
      const mutated = Buffer.from(body);
      const kind = rand(3);
      if (kind === 0) {
        const at = rand(mutated.length);
        mutated[at] = ((mutated[at] as number) + 1 + rand(255)) % 256; // never the same byte
      } else if (kind === 1) mutated.writeUInt8(rand(256), 0) && null;
      const candidate = kind === 2 ? Buffer.concat([mutated, Buffer.from([rand(256)])]) : mutated;
      if (candidate.equals(body)) continue; // kind 1 may rewrite the same byte: not a mutation
      if (checkSignature(candidate, header, secrets) === undefined) accepted++;
    }
    expect(accepted).toBe(0);
  });

  it('verifies accents and emoji over the raw, Meta-escaped bytes', async () => {
    const wamid = newWamid();
    const env = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [
            inboundTextMessage({ from: '5511987654321', id: wamid, text: 'Olá, ação! 😀 ünïcødé / slash' }),
          ],
        }),
      ],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    expect(body).toContain('\\u00e1');
    expect(body).toContain('\\ud83d\\ude00');
    expect(body).toContain('\\/');
    // A receiver that re-serialised would compute the signature over JSON.stringify's bytes.
    expect(JSON.stringify(JSON.parse(body))).not.toBe(body);
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    const inbound = (await jobsIn(ctx, 'message.inbound.v1')).find((j) => j.data.wamid === wamid);
    expect(inbound?.data.content).toEqual({ type: 'text', text: { body: 'Olá, ação! 😀 ünïcødé / slash' } });
  });
});

describe('processing', () => {
  it('processes every entry, change and item of a multi-entry body', async () => {
    const pn2 = '106540352242933';
    await connectNumber(ctx, pn2, 'ws_two');
    const m1 = newWamid();
    const m2 = newWamid();
    const s1 = newWamid();
    const s2 = newWamid();
    const a = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [
            inboundTextMessage({ from: '15550000001', id: m1, text: 'first' }),
            inboundTextMessage({ from: '15550000002', id: m2, text: 'STOP' }),
          ],
        }),
        messagesChange({
          phoneNumberId: PNID,
          statuses: [
            statusUpdate({ wamid: s1, status: 'delivered' }),
            statusUpdate({ wamid: s1, status: 'read' }),
            statusUpdate({
              wamid: s2,
              status: 'failed',
              error: { code: 131050, title: 'User stopped marketing' },
            }),
          ],
        }),
      ],
    });
    const b = webhookEnvelope({
      wabaId: '100000000000002',
      changes: [
        webhookChange(
          'user_preferences',
          userPreferences({ phoneNumberId: pn2, waId: '15550000003', value: 'stop' }),
        ),
      ],
    });
    const env = { object: a.object, entry: [...a.entry, ...b.entry] };
    const { body, headers } = signedWebhook(env, SECRET_OLD);
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();

    const inbound = await jobsIn(ctx, 'message.inbound.v1');
    expect(inbound.filter((j) => j.data.wamid === m1 || j.data.wamid === m2)).toHaveLength(2);
    const events = (await jobsIn(ctx, 'message.events.v1')).filter(
      (j) => j.data.wamid === s1 || j.data.wamid === s2,
    );
    expect(events.map((j) => `${j.data.wamid === s1 ? 's1' : 's2'}:${j.data.status}`).sort()).toEqual([
      's1:delivered',
      's1:read',
      's2:failed',
    ]);
    const signals = await jobsIn(ctx, 'consent.signal.v1');
    expect(signals.find((j) => (j.data.evidence as { wamid?: string }).wamid === m2)?.data).toMatchObject({
      workspaceId: WS,
      contact: '15550000002',
      signal: 'inbound_text',
      phoneNumberId: PNID,
      evidence: { text: 'STOP' },
    });
    expect(signals.find((j) => (j.data.evidence as { wamid?: string }).wamid === s2)?.data).toMatchObject({
      signal: 'opt_out',
      scope: 'marketing',
      source: 'error_131050',
    });
    expect(signals.find((j) => j.data.contact === '15550000003')?.data).toMatchObject({
      workspaceId: 'ws_two',
      signal: 'opt_out',
      scope: 'marketing',
      source: 'user_preferences',
    });
    const until = Number(await ctx.redis.get(windowKey(ctx.prefix, PNID, '15550000001')));
    expect(until).toBeGreaterThan(Date.now() + 23 * 3600 * 1000);
  });

  it('processes one webhook delivered 100 times concurrently once', async () => {
    const wamid = newWamid();
    const env = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [inboundTextMessage({ from: '15550000009', id: wamid, text: 'once' })],
        }),
      ],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    const answers = await Promise.all(Array.from({ length: 100 }, () => post(body, headers)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(100).fill(200));
    await processed();
    expect((await jobsIn(ctx, 'message.inbound.v1')).filter((j) => j.data.wamid === wamid)).toHaveLength(1);
    expect(
      (await jobsIn(ctx, 'consent.signal.v1')).filter(
        (j) => (j.data.evidence as { wamid?: string }).wamid === wamid,
      ),
    ).toHaveLength(1);
  });

  it('quarantines an unknown phone_number_id, then processes it once the number is connected', async () => {
    const unknown = '106540352249999';
    const wamid = newWamid();
    const env = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: unknown,
          messages: [inboundTextMessage({ from: '15550000010', id: wamid, text: 'hello' })],
        }),
      ],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    expect((await jobsIn(ctx, 'message.inbound.v1')).filter((j) => j.data.wamid === wamid)).toHaveLength(0);
    const listed = (await ingest.internal('GET', '/internal/v1/webhook/quarantine')).json() as {
      items: { reason: string; phoneNumberId?: string }[];
    };
    expect(listed.items.filter((q) => q.phoneNumberId === unknown)).toMatchObject([
      { reason: 'unknown_number' },
    ]);

    // Still unknown: a re-drive leaves it where it is.
    await ingest.app.webhookRedrive?.();
    expect((await jobsIn(ctx, 'message.inbound.v1')).filter((j) => j.data.wamid === wamid)).toHaveLength(0);

    await connectNumber(ctx, unknown, 'ws_late');
    await ingest.app.webhookRedrive?.();
    await ingest.app.webhookRedrive?.();
    const jobs = (await jobsIn(ctx, 'message.inbound.v1')).filter((j) => j.data.wamid === wamid);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.data.workspaceId).toBe('ws_late');
    const after = (await ingest.internal('GET', '/internal/v1/webhook/quarantine')).json() as {
      items: { phoneNumberId?: string }[];
    };
    expect(after.items.filter((q) => q.phoneNumberId === unknown)).toHaveLength(0);
  });

  it('acknowledges and quarantines a signed body that is not JSON or not an envelope', async () => {
    for (const body of ['{not json', '{"object":"page","entry":[]}']) {
      const res = await post(body, {
        'content-type': 'application/json',
        'x-hub-signature-256': signWebhook(body, SECRET_NEW),
      });
      expect(res.statusCode).toBe(200);
    }
    await processed();
    const listed = (await ingest.internal('GET', '/internal/v1/webhook/quarantine')).json() as {
      items: { reason: string }[];
    };
    expect(listed.items.map((q) => q.reason)).toEqual(expect.arrayContaining(['not_json', 'not_envelope']));
  });
});
