import { markSuppressionReady, publishSuppression } from '@wapi/consent';
import type { AccountUpdateV1 } from '@wapi/contracts';
import { createMetaClient } from '@wapi/meta-client';
import { createProducer, jobIdOf } from '@wapi/service-kit';
import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext } from '@wapi/testkit';
import { createVaultClient } from '@wapi/vault-client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagingRepositories } from '../src/messaging/repositories';
import { applyAccountUpdate } from '../src/templates/account-updates';
import { templateStore } from '../src/templates/store';
import { templateSync } from '../src/templates/sync';
import { gatewayEnv, type Harness, startGateway, startVault } from './harness';

const ctx = useTestContext('gwtpl');
const silent = pino({ level: 'silent' });
const fixture = sandboxFixture({
  moreTemplates: [
    {
      name: 'order_status',
      language: 'en_US',
      category: 'UTILITY',
      components: [
        { type: 'BODY', text: 'Order {{1}} is {{2}}.', example: { body_text: [['42', 'packed']] } },
      ],
    },
    {
      name: 'promo_named',
      language: 'en_US',
      category: 'MARKETING',
      parameterFormat: 'named',
      components: [
        {
          type: 'BODY',
          text: 'Hi {{first_name}}, {{discount}} off today.',
          example: {
            body_text_named_params: [
              { param_name: 'first_name', example: 'Asha' },
              { param_name: 'discount', example: '10%' },
            ],
          },
        },
      ],
    },
  ],
});
let sandbox: MetaSandbox;
let vault: Awaited<ReturnType<typeof startVault>>;
let env: Record<string, string>;
let gw: Harness;
let auth: string;
let ws: string;

const sends = () =>
  createProducer('message.send.v1', { connection: ctx.redis, prefix: ctx.prefix, log: silent });

beforeAll(async () => {
  [sandbox, vault] = await Promise.all([
    startMetaSandbox({
      redisUrl: ctx.infra.redisUrl,
      seed: fixture.seed,
      env: { SANDBOX_TEMPLATE_REVIEW_MS: '100', LOG_LEVEL: 'warn' },
    }),
    startVault(ctx),
  ]);
  env = gatewayEnv(ctx, {
    VAULT_URL: vault.url,
    GRAPH_BASE_URL: sandbox.baseUrl,
    TEMPLATE_SYNC_INTERVAL_MS: '0',
  });
  gw = await startGateway(ctx, env);
  await markSuppressionReady(ctx.redis, ctx.prefix);
  const owner = await gw.signup('tpl');
  auth = owner.tokens.accessToken;
  ws = owner.workspace.id;
  const connected = await gw.call('POST', '/api/v1/phone-numbers', {
    token: auth,
    body: {
      phoneNumberId: fixture.phoneNumberId,
      wabaId: fixture.wabaId,
      displayPhoneNumber: `+${fixture.displayPhoneNumber}`,
      accessToken: fixture.accessToken,
    },
  });
  expect(connected.statusCode, connected.body).toBe(201);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await Promise.all([sandbox?.stop(), vault?.stop()]);
});

const send = (to: string, template: object) =>
  gw.call('POST', '/api/v1/messages', { token: auth, body: { to, content: { type: 'template', template } } });
const list = async (query = '') =>
  (await gw.call('GET', `/api/v1/templates${query}`, { token: auth })).json().templates as {
    name: string;
    language: string;
    status: string;
    category: string;
    quality: string | null;
    parameters: { body: string[] };
  }[];

describe('templates with Meta (the sandbox)', () => {
  it("syncs Meta's templates into the store, with their parameters, and lists and gets them", async () => {
    const synced = await gw.call('POST', '/api/v1/templates/sync', { token: auth });
    expect(synced.statusCode, synced.body).toBe(200);
    expect(synced.json()).toEqual({ synced: 3, removed: 0 });
    expect((await list()).map((t) => `${t.name}:${t.status}`).sort()).toEqual([
      'hello_world:APPROVED',
      'order_status:APPROVED',
      'promo_named:APPROVED',
    ]);
    const one = await list('?name=promo_named&language=en_US');
    expect(one).toEqual([
      expect.objectContaining({
        category: 'MARKETING',
        parameterFormat: 'named',
        parameters: { body: ['first_name', 'discount'], header: null },
      }),
    ]);
    expect((await list('?name=order_status'))[0]?.parameters.body).toEqual(['1', '2']);
  });

  it('creates a template in Meta (PENDING: sends refused), refuses a duplicate and what Meta refuses, and takes the approval from a sync', async () => {
    const body = {
      name: 'welcome_new',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'Welcome {{1}}!', example: { body_text: [['Asha']] } }],
    };
    const created = await gw.call('POST', '/api/v1/templates', { token: auth, body });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'welcome_new', status: 'PENDING', category: 'UTILITY' });
    expect(created.json().metaId).toMatch(/^[0-9]+$/);
    const again = await gw.call('POST', '/api/v1/templates', { token: auth, body });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('TEMPLATE_EXISTS');
    const refused = await gw.call('POST', '/api/v1/templates', {
      token: auth,
      body: { ...body, name: 'no_body', components: [{ type: 'FOOTER', text: 'only a footer' }] },
    });
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().error.code).toBe('TEMPLATE_REFUSED_BY_META');
    expect(refused.json().error.message).toContain('Meta refused');
    expect(refused.body).not.toContain(fixture.accessToken);

    const params = [{ type: 'body', parameters: [{ type: 'text', text: 'Asha' }] }];
    const pending = await send('+14155550401', {
      name: 'welcome_new',
      language: 'en_US',
      components: params,
    });
    expect(pending.statusCode).toBe(422);
    expect(pending.json().error.code).toBe('TEMPLATE_NOT_APPROVED');
    expect(pending.json().error.message).toContain('PENDING');

    // The sandbox approves it after its review delay; a sync brings the new status.
    await expect
      .poll(
        async () => {
          await gw.call('POST', '/api/v1/templates/sync', { token: auth });
          return (await list('?name=welcome_new&language=en_US'))[0]?.status;
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe('APPROVED');
    const approved = await send('+14155550401', {
      name: 'welcome_new',
      language: 'en_US',
      components: params,
    });
    expect(approved.statusCode, approved.body).toBe(202);
  });

  it("takes a review outcome for a template created here whatever Meta's clock says, and a sync's observation only from a newer webhook", async () => {
    const created = await gw.call('POST', '/api/v1/templates', {
      token: auth,
      body: {
        name: 'clock_check',
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Hi' }],
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const store = templateStore(ctx.db, ctx.redis, ctx.prefix);
    const review = (status: string, secondsAgo: number): AccountUpdateV1 => ({
      workspaceId: ws,
      wabaId: fixture.wabaId,
      // Meta's clock 10 s behind ours, in whole seconds.
      occurredAt: new Date(Math.floor(Date.now() / 1_000) * 1_000 - secondsAgo * 1_000).toISOString(),
      change: {
        kind: 'template_status',
        templateId: created.json().metaId,
        name: 'clock_check',
        language: 'en_US',
        status,
      },
    });
    const silentLog = { debug: () => undefined, warn: () => undefined };
    await applyAccountUpdate(store, review('APPROVED', 10), undefined, silentLog);
    expect((await list('?name=clock_check&language=en_US'))[0]?.status).toBe('APPROVED');
    // A sync is an observation at our time (whatever Meta says now): a webhook stamped well
    // before it is older and changes nothing.
    await gw.call('POST', '/api/v1/templates/sync', { token: auth });
    const observed = (await list('?name=clock_check&language=en_US'))[0]?.status;
    await applyAccountUpdate(store, review('PAUSED', 30), undefined, silentLog);
    expect((await list('?name=clock_check&language=en_US'))[0]?.status).toBe(observed);
  });

  it('validates template sends against the stored definition before Meta sees them, and prioritises by category', async () => {
    await gw.call('POST', '/api/v1/templates/sync', { token: auth });
    const cases: [object, string][] = [
      [{ name: 'nope', language: 'en_US' }, 'TEMPLATE_NOT_FOUND'],
      [{ name: 'order_status', language: 'pt_BR' }, 'TEMPLATE_LANGUAGE_UNAVAILABLE'],
      [
        {
          name: 'order_status',
          language: 'en_US',
          components: [{ type: 'body', parameters: [{ type: 'text', text: '42' }] }],
        },
        'TEMPLATE_PARAMETERS_INVALID',
      ],
      [{ name: 'order_status', language: 'en_US' }, 'TEMPLATE_PARAMETERS_INVALID'],
      [
        {
          name: 'promo_named',
          language: 'en_US',
          components: [
            {
              type: 'body',
              parameters: [
                { type: 'text', text: 'Asha', parameter_name: 'first_name' },
                { type: 'text', text: '10%', parameter_name: 'discont' },
              ],
            },
          ],
        },
        'TEMPLATE_PARAMETERS_INVALID',
      ],
      [
        {
          name: 'hello_world',
          language: 'en_US',
          components: [{ type: 'header', parameters: [{ type: 'text', text: 'x' }] }],
        },
        'TEMPLATE_PARAMETERS_INVALID',
      ],
    ];
    for (const [template, code] of cases) {
      const answer = await send('+14155550402', template);
      expect(answer.statusCode, JSON.stringify(template)).toBe(422);
      expect(answer.json().error.code, JSON.stringify(template)).toBe(code);
    }
    const language = await send('+14155550402', { name: 'order_status', language: 'pt_BR' });
    expect(language.json().error.message).toContain('en_US');
    const named = await send('+14155550402', {
      name: 'promo_named',
      language: 'en_US',
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: '10%', parameter_name: 'discount' },
            { type: 'text', text: 'Asha', parameter_name: 'first_name' },
          ],
        },
      ],
    });
    expect(named.statusCode, named.body).toBe(202);
    const positional = await send('+14155550402', {
      name: 'order_status',
      language: 'en_US',
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: '42' },
            { type: 'text', text: 'packed' },
          ],
        },
      ],
    });
    expect(positional.statusCode, positional.body).toBe(202);
    const producer = sends();
    try {
      const marketing = await producer.queue.getJob(jobIdOf(ws, named.json().id));
      const utility = await producer.queue.getJob(jobIdOf(ws, positional.json().id));
      expect(marketing?.data.category).toBe('marketing');
      expect(utility?.data.category).toBe('utility');
      // Lower is served first: utility before marketing.
      expect(utility?.opts.priority).toBe(2);
      expect(marketing?.opts.priority).toBe(3);
    } finally {
      await producer.close();
    }

    // A marketing-only opt-out blocks the marketing template and lets the utility one through.
    await publishSuppression(ctx.redis, ctx.prefix, ws, [
      { contact: '14155550403', flags: { all: false, marketing: true }, version: Date.now() },
    ]);
    const promo = await send('+14155550403', {
      name: 'promo_named',
      language: 'en_US',
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Asha', parameter_name: 'first_name' },
            { type: 'text', text: '10%', parameter_name: 'discount' },
          ],
        },
      ],
    });
    expect(promo.json().error.code).toBe('CONTACT_OPTED_OUT');
    expect((await send('+14155550403', { name: 'hello_world', language: 'en_US' })).statusCode).toBe(202);
  });

  it('applies template status and quality from account.update.v1 as they arrive, never an older one over a newer', async () => {
    await gw.call('POST', '/api/v1/templates/sync', { token: auth });
    const syncedAt = Date.now();
    const withWorkers = await startGateway(ctx, env, undefined, undefined, true);
    const updates = createProducer('account.update.v1', {
      connection: ctx.redis,
      prefix: ctx.prefix,
      log: silent,
    });
    const ref = { templateId: '1', name: 'hello_world', language: 'en_US' };
    const update = (change: AccountUpdateV1['change'], at: number): AccountUpdateV1 => ({
      workspaceId: ws,
      wabaId: fixture.wabaId,
      occurredAt: new Date(Date.now() + at).toISOString(),
      change,
    });
    const code = async () =>
      (await send('+14155550404', { name: 'hello_world', language: 'en_US' })).json().error?.code;
    try {
      // Meta stamps a webhook with whole seconds (entry.time): a pause in the very second the
      // sync above ended carries a time before the sync's own, and must still apply.
      const thisSecond = Math.floor(syncedAt / 1_000) * 1_000 - Date.now();
      await updates.add(
        update({ kind: 'template_status', ...ref, status: 'PAUSED', detail: 'FIRST_PAUSE' }, thisSecond),
        { jobId: 'paused' },
      );
      await expect.poll(code, { timeout: 15_000, interval: 200 }).toBe('TEMPLATE_PAUSED');
      await updates.add(update({ kind: 'template_status', ...ref, status: 'DISABLED' }, 2_000), {
        jobId: 'disabled',
      });
      await expect.poll(code, { timeout: 15_000, interval: 200 }).toBe('TEMPLATE_DISABLED');
      // An older APPROVED (redelivered late) does not undo the newer DISABLED.
      await updates.add(update({ kind: 'template_status', ...ref, status: 'APPROVED' }, 500), {
        jobId: 'late',
      });
      await updates.add(
        update({ kind: 'template_quality', ...ref, quality: 'RED', previousQuality: 'GREEN' }, 3_000),
        {
          jobId: 'quality',
        },
      );
      await expect
        .poll(async () => (await list('?name=hello_world&language=en_US'))[0]?.quality, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe('RED');
      await expect
        .poll(async () => (await updates.queue.getJobCounts('completed')).completed, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe(4);
      expect((await list('?name=hello_world&language=en_US'))[0]?.status).toBe('DISABLED');
      expect(await code()).toBe('TEMPLATE_DISABLED');
      // A number-health kind goes to onNumberUpdate (numbers/health.ts), and completes.
      await updates.add(
        update(
          { kind: 'phone_quality', displayPhoneNumber: fixture.displayPhoneNumber, event: 'FLAGGED' },
          4_000,
        ),
        { jobId: 'phone' },
      );
      await expect
        .poll(async () => (await updates.queue.getJobCounts('completed')).completed, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe(5);
    } finally {
      await updates.close();
      await withWorkers.close();
    }
  }, 60_000);

  it('deletes a template by name in Meta and here, and runs the periodic sync on one instance at a time', async () => {
    await gw.call('POST', '/api/v1/templates/sync', { token: auth });
    const deleted = await gw.call('DELETE', '/api/v1/templates?name=order_status', { token: auth });
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(await list('?name=order_status')).toEqual([]);
    const meta = createMetaClient({ baseUrl: sandbox.baseUrl, version: 'v23.0' });
    const inMeta = await meta.listTemplates(fixture.accessToken, fixture.wabaId, { name: 'order_status' });
    expect(inMeta.data).toEqual([]);
    expect((await gw.call('DELETE', '/api/v1/templates?name=order_status', { token: auth })).statusCode).toBe(
      404,
    );

    // A template made in Meta's own tools arrives with the periodic sync; one instance runs it.
    await sandbox.control.applySeed({
      templates: [
        {
          wabaId: fixture.wabaId,
          name: 'made_in_manager',
          language: 'en_US',
          category: 'MARKETING',
          components: [{ type: 'BODY', text: 'Spring sale.' }],
        },
      ],
    });
    const vaultClient = createVaultClient({
      baseUrl: vault.url,
      auth: gw.app.internalAuth!,
      prefix: ctx.prefix,
      cacheTtlMs: 0,
    });
    try {
      const sync = templateSync({
        store: templateStore(ctx.db, ctx.redis, ctx.prefix),
        repos: messagingRepositories(ctx.db),
        meta,
        vault: vaultClient,
        now: () => new Date(),
      });
      const log = { warn: () => undefined };
      const [a, b] = await Promise.all([
        sync.syncAll(ctx.redis, ctx.prefix, 5_000, log),
        sync.syncAll(ctx.redis, ctx.prefix, 5_000, log),
      ]);
      expect([a.ran, b.ran].sort()).toEqual([false, true]);
      expect((await list('?name=made_in_manager'))[0]).toMatchObject({
        status: 'APPROVED',
        category: 'MARKETING',
      });
    } finally {
      await vaultClient.close();
    }
    // A send takes it at once (templates need no open window).
    expect((await send('+14155550405', { name: 'made_in_manager', language: 'en_US' })).statusCode).toBe(202);
  });
});
