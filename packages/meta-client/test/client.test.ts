import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, type SpawnedService, spawnService, useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetaClient, MetaApiError, type MetaClient } from '../src/index';

// Tests run against the real meta-sandbox process (its built dist server), over real HTTP.
const ctx = useTestContext('metaclient');
const sandboxDir = dirname(createRequire(import.meta.url).resolve('@wapi/meta-sandbox/package.json'));
const TOKEN = 'EAAclienttesttoken01';
const NUMBER = '300000000000011';
const WABA = '200000000000011';
const APP = '100000000000011';
let sandbox: SpawnedService;
let client: MetaClient;
let baseUrl: string;

beforeAll(async () => {
  const seed = join(tmpdir(), `meta-client-seed-${process.pid}.json`);
  writeFileSync(
    seed,
    JSON.stringify({
      apps: [{ id: APP, secret: 'client-test-secret' }],
      wabas: [
        {
          id: WABA,
          subscribedApps: [APP],
          phoneNumbers: [{ id: NUMBER, display: '15550783881', verifiedName: 'Lucky Shrub' }],
        },
      ],
      tokens: [{ value: TOKEN, appId: APP }],
      templates: [
        {
          wabaId: WABA,
          name: 'hello',
          language: 'en_US',
          category: 'MARKETING',
          components: [{ type: 'BODY', text: 'Hello.' }],
        },
      ],
    }),
  );
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  sandbox = spawnService(join(sandboxDir, 'dist/server.js'), {
    REDIS_URL: ctx.infra.redisUrl,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    SANDBOX_SEED_FILE: seed,
    SANDBOX_ADMIN_TOKEN: 'client-test-admin-token',
    SANDBOX_THROUGHPUT_MPS: '1',
  });
  await waitFor(async () => (await fetch(`${baseUrl}/health`)).ok, { what: 'sandbox up', timeoutMs: 15_000 });
  client = createMetaClient({ baseUrl, version: 'v23.0' });
});
afterAll(async () => {
  client?.close();
  sandbox?.child.kill('SIGTERM');
  await sandbox?.exited;
});

describe('meta-client against meta-sandbox', () => {
  it('sends a template and gets a typed answer (ref §2.2)', async () => {
    const answer = await client.sendMessage(TOKEN, NUMBER, {
      to: '+16505551234',
      type: 'template',
      template: { name: 'hello', language: { code: 'en_US' } },
    });
    expect(answer.messages[0]?.message_status).toBe('accepted');
    expect(answer.contacts[0]?.wa_id).toBe('16505551234');
  });

  it('parses errors into MetaApiError with their classification (ref §1.3, §4)', async () => {
    // SANDBOX_THROUGHPUT_MPS=1: the second send within the second is throttled.
    const attempt = () =>
      client.sendMessage(TOKEN, NUMBER, {
        to: '16505550000',
        type: 'template',
        template: { name: 'hello', language: { code: 'en_US' } },
      });
    const errors = await Promise.allSettled([attempt(), attempt()]);
    const rejected = errors.find((r) => r.status === 'rejected');
    const error = rejected?.status === 'rejected' ? (rejected.reason as MetaApiError) : undefined;
    expect(error).toBeInstanceOf(MetaApiError);
    expect(error).toMatchObject({
      code: 130429,
      httpStatus: 400,
      classification: { kind: 'rate-limited', scope: 'number' },
    });
    expect(error?.fbtraceId).toBeTruthy();
    const auth = await client
      .sendMessage('EAAbad', NUMBER, { to: '1', text: { body: 'x' } })
      .catch((e: unknown) => e);
    expect(auth).toMatchObject({ code: 190, classification: { kind: 'auth' } });
    const missing = await client
      .sendMessage(TOKEN, NUMBER, {
        to: '16505550001',
        type: 'template',
        template: { name: 'nope', language: { code: 'en_US' } },
      })
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 132001, httpStatus: 404, classification: { kind: 'permanent' } });
  });

  it('uploads, resolves and downloads media with the token (ref §10)', async () => {
    const bytes = Buffer.from('png-bytes');
    const { id } = await client.uploadMedia(TOKEN, NUMBER, {
      bytes,
      mimeType: 'image/png',
      filename: 'a.png',
    });
    const info = await client.getMedia(TOKEN, id);
    expect(info.mime_type).toBe('image/png');
    const download = await client.downloadMedia(TOKEN, info.url);
    expect(download.bytes).toEqual(bytes);
    expect(await client.deleteMedia(TOKEN, id)).toEqual({ success: true });
  });

  it('manages templates, subscriptions, registration and phone numbers (ref §7.1, §8)', async () => {
    const created = await client.createTemplate(TOKEN, WABA, {
      name: 'note',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'Hi {{1}}.' }],
    });
    expect(created.status).toBe('PENDING');
    expect((await client.listTemplates(TOKEN, WABA, { name: 'note' })).data[0]?.id).toBe(created.id);
    expect((await client.getTemplate(TOKEN, created.id)).name).toBe('note');
    expect(await client.deleteTemplate(TOKEN, WABA, 'note')).toEqual({ success: true });
    expect(await client.subscribeApp(TOKEN, WABA)).toEqual({ success: true });
    expect((await client.listSubscribedApps(TOKEN, WABA)).data[0]?.whatsapp_business_api_data.id).toBe(APP);
    expect(await client.registerNumber(TOKEN, NUMBER, '123456')).toEqual({ success: true });
    expect((await client.listPhoneNumbers(TOKEN, WABA)).data[0]?.id).toBe(NUMBER);
    expect(await client.getPhoneNumber(TOKEN, NUMBER)).toMatchObject({
      display_phone_number: '15550783881',
      verified_name: 'Lucky Shrub',
      quality_rating: 'GREEN',
      whatsapp_business_manager_messaging_limit: 'TIER_2K',
      throughput: { level: 'STANDARD' },
    });
    expect((await client.debugToken(TOKEN, TOKEN)).data.is_valid).toBe(true);
    expect(await client.unsubscribeApp(TOKEN, WABA)).toEqual({ success: true });
  });

  it('exchanges an Embedded Signup code (ref §8.1)', async () => {
    const minted = await fetch(`${baseUrl}/_sandbox/oauth-codes`, {
      method: 'POST',
      headers: { authorization: 'Bearer client-test-admin-token', 'content-type': 'application/json' },
      body: JSON.stringify({ appId: APP, wabaIds: [WABA] }),
    });
    const { code } = (await minted.json()) as { code: string };
    const token = await client.exchangeCode(APP, 'client-test-secret', code);
    expect(token.token_type).toBe('bearer');
    await expect(client.exchangeCode(APP, 'client-test-secret', code)).rejects.toBeInstanceOf(MetaApiError);
  });

  it('edits a template back to review and unpauses a paused one (ref §7.1, §7.4)', async () => {
    const { id } = await client.createTemplate(TOKEN, WABA, {
      name: 'edit_me',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'Your order shipped.' }],
    });
    const force = (status: string) =>
      fetch(`${baseUrl}/_sandbox/templates/${id}/status`, {
        method: 'POST',
        headers: { authorization: 'Bearer client-test-admin-token', 'content-type': 'application/json' },
        body: JSON.stringify({ status }),
      });
    expect((await force('APPROVED')).status).toBe(200);
    const components = [{ type: 'BODY', text: 'Your order is on its way.' }];
    expect(await client.editTemplate(TOKEN, id, { components })).toEqual({ success: true });
    expect(await client.getTemplate(TOKEN, id)).toMatchObject({ status: 'PENDING', components });
    const notPaused = await client.unpauseTemplate(TOKEN, id).catch((e: unknown) => e);
    expect(notPaused).toMatchObject({ code: 100, classification: { kind: 'permanent' } });
    expect((await force('PAUSED')).status).toBe(200);
    expect(await client.unpauseTemplate(TOKEN, id)).toEqual({ success: true });
    expect((await client.getTemplate(TOKEN, id)).status).toBe('APPROVED');
  });
});
