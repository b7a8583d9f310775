import { createHmac } from 'node:crypto';
import { CONSENT_TEXT_MAX_LENGTH, windowKey } from '@wapi/contracts';
import {
  inboundTextMessage,
  messagesChange,
  metaJsonEncode,
  newWamid,
  signedWebhook,
  signWebhook,
  statusUpdate,
  templateStatusUpdate,
  userPreferences,
  useTestContext,
  webhookChange,
  webhookEnvelope,
} from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSignature } from '../src/signature';
import {
  connectNumber,
  connectWaba,
  type IngestUnderTest,
  jobsIn,
  SECRET_NEW,
  SECRET_OLD,
  sampleOf,
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

  it('sends compliance only texts that can be a keyword: one of CONSENT_TEXT_MAX_LENGTH characters, not a longer one', async () => {
    const atBound = newWamid();
    const over = newWamid();
    const env = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [
            inboundTextMessage({
              from: '15550000011',
              id: atBound,
              text: 'a'.repeat(CONSENT_TEXT_MAX_LENGTH),
            }),
            inboundTextMessage({
              from: '15550000012',
              id: over,
              text: `STOP ${'a'.repeat(CONSENT_TEXT_MAX_LENGTH)}`,
            }),
          ],
        }),
      ],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    // Both are inbound messages (and open the window); only the first is a consent signal.
    const inbound = await jobsIn(ctx, 'message.inbound.v1');
    expect(inbound.filter((j) => j.data.wamid === atBound || j.data.wamid === over)).toHaveLength(2);
    const signals = (await jobsIn(ctx, 'consent.signal.v1')).map(
      (j) => (j.data.evidence as { wamid?: string }).wamid,
    );
    expect(signals).toContain(atBound);
    expect(signals).not.toContain(over);
    expect(Number(await ctx.redis.get(windowKey(ctx.prefix, PNID, '15550000012')))).toBeGreaterThan(
      Date.now(),
    );
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

describe('statuses', () => {
  it('carries biz_opaque_callback_data as messageId and the pricing block onto message.events', async () => {
    const wamid = newWamid();
    const pricing = { billable: true, pricing_model: 'PMP', type: 'regular', category: 'utility' } as const;
    const env = webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          statuses: [
            statusUpdate({ wamid, status: 'sent', bizOpaqueCallbackData: 'msg_01JD3V7Q2M', pricing }),
            // Another sender on the number may put anything there: not a wapi id, left out.
            statusUpdate({ wamid, status: 'delivered', bizOpaqueCallbackData: 'has spaces, not an id' }),
          ],
        }),
      ],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    const events = (await jobsIn(ctx, 'message.events.v1')).filter((j) => j.data.wamid === wamid);
    expect(events.find((j) => j.data.status === 'sent')?.data).toMatchObject({
      workspaceId: WS,
      messageId: 'msg_01JD3V7Q2M',
      pricing: { billable: true, pricingModel: 'PMP', type: 'regular', category: 'utility' },
    });
    const delivered = events.find((j) => j.data.status === 'delivered')?.data;
    expect(delivered).toBeDefined();
    expect(delivered).not.toHaveProperty('messageId');
    expect(delivered).not.toHaveProperty('pricing');
  });
});

describe('account updates', () => {
  const WABA = '100000000000077';
  const time = 1_764_460_800;
  const changes = () => [
    webhookChange(
      'message_template_status_update',
      templateStatusUpdate({
        templateId: 912345678901234,
        name: 'order_update',
        event: 'PAUSED',
        language: 'pt_BR',
        reason: null,
        otherInfo: { title: 'FIRST_PAUSE', description: 'low quality' },
      }),
    ),
    webhookChange('message_template_quality_update', {
      previous_quality_score: 'GREEN',
      new_quality_score: 'YELLOW',
      message_template_id: 912345678901234,
      message_template_name: 'order_update',
      message_template_language: 'pt_BR',
    }),
    webhookChange('phone_number_quality_update', {
      display_phone_number: '15550783881',
      event: 'UPGRADE',
      current_limit: 'TIER_10K',
      old_limit: 'TIER_2K',
    }),
    webhookChange('account_update', {
      event: 'DISABLED_UPDATE',
      ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: 'November 30, 2026' },
    }),
    webhookChange('business_capability_update', {
      max_daily_conversation_per_phone: 1000,
      max_phone_numbers_per_business: 25,
      max_daily_conversations_per_business: 'TIER_10K',
    }),
  ];
  const accountJobs = async () =>
    (await jobsIn(ctx, 'account.update.v1')).filter((j) => j.data.wabaId === WABA);

  it('quarantines management webhooks of an unknown WABA, then emits each change once the WABA is known', async () => {
    const { body, headers } = signedWebhook(
      webhookEnvelope({ wabaId: WABA, time, changes: changes() }),
      SECRET_NEW,
    );
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    expect(await accountJobs()).toHaveLength(0);
    const listed = (await ingest.internal('GET', '/internal/v1/webhook/quarantine')).json() as {
      items: { reason: string; wabaId?: string }[];
    };
    expect(listed.items.filter((q) => q.wabaId === WABA)).toMatchObject([{ reason: 'unknown_waba' }]);

    await connectWaba(ctx, WABA, 'ws_acct');
    await ingest.app.webhookRedrive?.();
    // Meta retries the same body (or a second subscribed app receives it): nothing new.
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    const jobs = await accountJobs();
    expect(jobs).toHaveLength(5);
    const byKind = new Map(jobs.map((j) => [(j.data.change as { kind: string }).kind, j.data]));
    const at = new Date(time * 1000).toISOString();
    expect(byKind.get('template_status')).toEqual({
      workspaceId: 'ws_acct',
      wabaId: WABA,
      journalId: expect.any(String),
      occurredAt: at,
      change: {
        kind: 'template_status',
        templateId: '912345678901234',
        name: 'order_update',
        language: 'pt_BR',
        status: 'PAUSED',
        detail: 'FIRST_PAUSE',
      },
    });
    expect(byKind.get('template_quality')?.change).toEqual({
      kind: 'template_quality',
      templateId: '912345678901234',
      name: 'order_update',
      language: 'pt_BR',
      previousQuality: 'GREEN',
      quality: 'YELLOW',
    });
    expect(byKind.get('phone_quality')?.change).toEqual({
      kind: 'phone_quality',
      displayPhoneNumber: '15550783881',
      event: 'UPGRADE',
      currentLimit: 'TIER_10K',
      previousLimit: 'TIER_2K',
    });
    expect(byKind.get('account')?.change).toEqual({
      kind: 'account',
      event: 'DISABLED_UPDATE',
      banState: 'DISABLE',
    });
    expect(byKind.get('capability')?.change).toEqual({
      kind: 'capability',
      maxDailyConversationsPerBusiness: 'TIER_10K',
      maxPhoneNumbersPerBusiness: 25,
    });
    const after = (await ingest.internal('GET', '/internal/v1/webhook/quarantine')).json() as {
      items: { wabaId?: string }[];
    };
    expect(after.items.filter((q) => q.wabaId === WABA)).toHaveLength(0);
  });

  it('quarantines a change that does not fit account.update.v1 instead of emitting it', async () => {
    const env = webhookEnvelope({
      wabaId: WABA,
      changes: [webhookChange('account_update', { event: 'not an event name' })],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    const before = (await accountJobs()).length;
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    expect(await accountJobs()).toHaveLength(before);
    const listed = (await ingest.internal('GET', '/internal/v1/webhook/quarantine?limit=1000')).json() as {
      items: { reason: string; detail?: string }[];
    };
    expect(
      listed.items.some((q) => q.reason === 'invalid_item' && q.detail?.startsWith('account.update.v1')),
    ).toBe(true);
  });

  it('carries the owning portfolio from waba_info, and leaves out a malformed one without quarantining the event', async () => {
    const env = webhookEnvelope({
      wabaId: WABA,
      changes: [
        webhookChange('account_update', {
          event: 'PARTNER_ADDED',
          waba_info: { waba_id: WABA, owner_business_id: '1234567890123' },
        }),
        webhookChange('account_update', {
          event: 'PARTNER_APP_INSTALLED',
          waba_info: { waba_id: WABA, owner_business_id: 'not-an-id' },
        }),
      ],
    });
    const { body, headers } = signedWebhook(env, SECRET_NEW);
    expect((await post(body, headers)).statusCode).toBe(200);
    await processed();
    const changes = (await accountJobs())
      .map((j) => j.data.change as { event?: string })
      .filter((c) => c.event?.startsWith('PARTNER_'));
    expect(changes).toHaveLength(2);
    expect(changes).toContainEqual({ kind: 'account', event: 'PARTNER_ADDED', businessId: '1234567890123' });
    expect(changes).toContainEqual({ kind: 'account', event: 'PARTNER_APP_INSTALLED' });
  });
});

describe('metrics', () => {
  it('counts received, rejected by reason, journaled, processed, duplicates and quarantined on /metrics', async () => {
    const scrape = async () => (await ingest.app.inject({ url: '/metrics' })).body;
    const names = [
      ['webhook_received_total', {}],
      ['webhook_rejected_total', { reason: 'mismatch' }],
      ['webhook_journaled_total', {}],
      ['webhook_processed_total', {}],
      ['webhook_duplicates_total', {}],
      ['webhook_quarantined_total', { reason: 'unknown_number' }],
    ] as const;
    const read = (text: string) => names.map(([n, l]) => sampleOf(text, n, l));
    const before = read(await scrape());

    const wamid = newWamid();
    const good = signedWebhook(
      webhookEnvelope({
        wabaId: '100000000000001',
        changes: [
          messagesChange({
            phoneNumberId: PNID,
            messages: [inboundTextMessage({ from: '15550000042', id: wamid, text: 'metrics' })],
          }),
        ],
      }),
      SECRET_NEW,
    );
    expect((await post(good.body, good.headers)).statusCode).toBe(200);
    await processed();
    expect((await post(good.body, good.headers)).statusCode).toBe(200); // a retry: a duplicate
    await processed();
    expect(
      (await post(good.body, { ...good.headers, 'x-hub-signature-256': signWebhook(good.body, 'nope') }))
        .statusCode,
    ).toBe(401);
    const stray = signedWebhook(
      webhookEnvelope({
        wabaId: '100000000000001',
        changes: [
          messagesChange({
            phoneNumberId: '106540352240000',
            messages: [inboundTextMessage({ from: '15550000043', id: newWamid(), text: 'x' })],
          }),
        ],
      }),
      SECRET_NEW,
    );
    expect((await post(stray.body, stray.headers)).statusCode).toBe(200);
    await processed();

    const text = await scrape();
    const after = read(text);
    expect(after.map((v, i) => v - (before[i] as number))).toEqual([4, 1, 3, 3, 1, 1]);
    expect(text).toMatch(/^webhook_journal_lag_entries\{[^}]*\} 0$/m);
    expect(text).toMatch(/^webhook_journal_lag_seconds\{[^}]*\} 0$/m);
  });
});
