import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer as createTcpServer } from 'node:net';
import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetaClient, MetaApiError, type MetaClient } from '../src/index';

// Tests run against the real meta-sandbox process (its built dist server, started by
// testkit's startMetaSandbox from this package's devDependency), over real HTTP.
const ctx = useTestContext('metaclient');
const TOKEN = 'EAAclienttesttoken01';
const NUMBER = '300000000000011';
const WABA = '200000000000011';
const APP = '100000000000011';
const APP_SECRET = 'client-test-secret';
/** A number only the register/deregister rate-limit test uses (its 10 calls / 72 h budget). */
const NUMBER_RL = '300000000000012';
/** A number only the two-step PIN test uses. */
const NUMBER_PIN = '300000000000013';
const world = sandboxFixture({
  appId: APP,
  appSecret: APP_SECRET,
  wabaId: WABA,
  wabaName: 'Lucky Shrub WABA',
  phoneNumberId: NUMBER,
  displayPhoneNumber: '15550783881',
  verifiedName: 'Lucky Shrub',
  accessToken: TOKEN,
  template: { name: 'hello', category: 'MARKETING', components: [{ type: 'BODY', text: 'Hello.' }] },
  morePhoneNumbers: [
    { id: NUMBER_RL, display: '15550783882', verifiedName: 'Lucky Shrub' },
    { id: NUMBER_PIN, display: '15550783883', verifiedName: 'Lucky Shrub', registered: false },
  ],
});
let sandbox: MetaSandbox;
let client: MetaClient;
let baseUrl: string;

beforeAll(async () => {
  sandbox = await startMetaSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed: world.seed,
    // One send per second per number: the second of two concurrent sends is throttled.
    env: { SANDBOX_THROUGHPUT_MPS: '1' },
  });
  baseUrl = sandbox.baseUrl;
  client = createMetaClient({ baseUrl, version: 'v23.0' });
});
afterAll(async () => {
  client?.close();
  await sandbox?.stop();
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
    // The sandbox recorded the very send the answer describes.
    expect(await sandbox.control.sentMessages({ phoneNumberId: NUMBER, to: '16505551234' })).toEqual([
      expect.objectContaining({ wamid: answer.messages[0]?.id, type: 'template' }),
    ]);
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
    const { code } = await sandbox.control.mintOAuthCode({ appId: APP, wabaIds: [WABA] });
    const token = await client.exchangeCode(APP, APP_SECRET, code);
    expect(token.token_type).toBe('bearer');
    await expect(client.exchangeCode(APP, APP_SECRET, code)).rejects.toBeInstanceOf(MetaApiError);
  });

  it('edits a template back to review and unpauses a paused one (ref §7.1, §7.4)', async () => {
    const { id } = await client.createTemplate(TOKEN, WABA, {
      name: 'edit_me',
      language: 'en_US',
      category: 'UTILITY',
      components: [{ type: 'BODY', text: 'Your order shipped.' }],
    });
    await sandbox.control.setTemplateStatus(id, 'APPROVED');
    const components = [{ type: 'BODY', text: 'Your order is on its way.' }];
    expect(await client.editTemplate(TOKEN, id, { components })).toEqual({ success: true });
    expect(await client.getTemplate(TOKEN, id)).toMatchObject({ status: 'PENDING', components });
    const notPaused = await client.unpauseTemplate(TOKEN, id).catch((e: unknown) => e);
    expect(notPaused).toMatchObject({ code: 100, classification: { kind: 'permanent' } });
    await sandbox.control.setTemplateStatus(id, 'PAUSED');
    expect(await client.unpauseTemplate(TOKEN, id)).toEqual({ success: true });
    expect((await client.getTemplate(TOKEN, id)).status).toBe('APPROVED');
  });

  it('reuses keep-alive sockets: 20 sequential calls open at most 2 connections, 20 with keepAlive off', async () => {
    // A TCP relay in front of the sandbox counts the connections the client opens.
    const target = new URL(baseUrl);
    let connections = 0;
    const open = new Set<Socket>();
    const relay = createTcpServer((downstream) => {
      connections += 1;
      open.add(downstream);
      downstream.on('close', () => open.delete(downstream));
      const upstream = connect(Number(target.port), target.hostname);
      downstream.pipe(upstream).pipe(downstream);
      upstream.on('error', () => downstream.destroy());
      downstream.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const run = async (keepAlive: boolean) => {
      connections = 0;
      const measured = createMetaClient({ baseUrl: relayUrl, version: 'v23.0', keepAlive });
      try {
        for (let i = 0; i < 20; i += 1)
          expect((await measured.getPhoneNumber(TOKEN, NUMBER, ['id'])).id).toBe(NUMBER);
      } finally {
        measured.close();
      }
      return connections;
    };
    try {
      expect(await run(true)).toBeLessThanOrEqual(2);
      expect(await run(false)).toBe(20);
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('reads the WABA node with its template namespace (ref §7.1)', async () => {
    expect(await client.getWaba(TOKEN, WABA)).toEqual({
      id: WABA,
      name: 'Lucky Shrub WABA',
      message_template_namespace: expect.any(String),
    });
    const unknown = await client.getWaba(TOKEN, '299999999999999').catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 100, classification: { kind: 'permanent' } });
  });

  it('deregisters a number, and the 11th register/deregister within 72 h is 133016, rate-limited 72 h (ref §8.4, §4)', async () => {
    const status = async () => (await client.getPhoneNumber(TOKEN, NUMBER_RL, ['status'])).status;
    expect(await status()).toBe('CONNECTED');
    expect(await client.deregisterNumber(TOKEN, NUMBER_RL)).toEqual({ success: true });
    expect(await status()).toBe('PENDING');
    expect(await client.registerNumber(TOKEN, NUMBER_RL, '123456')).toEqual({ success: true });
    expect(await status()).toBe('CONNECTED');
    // Calls 3..10 of the budget of 10 per 72 h.
    for (let i = 3; i <= 10; i += 1) {
      const answer =
        i % 2 === 1
          ? await client.deregisterNumber(TOKEN, NUMBER_RL)
          : await client.registerNumber(TOKEN, NUMBER_RL, '123456');
      expect(answer).toEqual({ success: true });
    }
    const limited = await client.deregisterNumber(TOKEN, NUMBER_RL).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(MetaApiError);
    expect(limited).toMatchObject({
      code: 133016,
      httpStatus: 400,
      classification: { kind: 'rate-limited', retryAfterMs: 72 * 3600 * 1000, scope: 'number' },
    });
  });

  it('sets the two-step PIN with updatePhoneNumber; register then needs it (ref §8.4, §4 133005)', async () => {
    expect(await client.updatePhoneNumber(TOKEN, NUMBER_PIN, { pin: '150954' })).toEqual({ success: true });
    const wrong = await client.registerNumber(TOKEN, NUMBER_PIN, '111111').catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 133005, classification: { kind: 'permanent' } });
    expect(await client.registerNumber(TOKEN, NUMBER_PIN, '150954')).toEqual({ success: true });
    expect((await client.getPhoneNumber(TOKEN, NUMBER_PIN, ['status'])).status).toBe('CONNECTED');
    const malformed = await client
      .updatePhoneNumber(TOKEN, NUMBER_PIN, { pin: '12' })
      .catch((e: unknown) => e);
    expect(malformed).toMatchObject({ code: 100, classification: { kind: 'permanent' } });
  });

  it('sets a number-level callback override that Meta verifies with a GET challenge (ref §8.3, §8.5)', async () => {
    const challenges: string[] = [];
    const receiver: Server = createHttpServer((req, res) => {
      const query = new URL(req.url ?? '/', 'http://receiver').searchParams;
      challenges.push(query.get('hub.verify_token') ?? '');
      const ok = query.get('hub.mode') === 'subscribe' && query.get('hub.verify_token') === 'tenant-7-secret';
      res.writeHead(ok ? 200 : 403, { 'content-type': 'text/plain' });
      res.end(ok ? (query.get('hub.challenge') ?? '') : 'forbidden');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const uri = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/tenants/7/webhook`;
    try {
      expect(
        await client.updatePhoneNumber(TOKEN, NUMBER, {
          webhook_configuration: { override_callback_uri: uri, verify_token: 'tenant-7-secret' },
        }),
      ).toEqual({ success: true });
      expect(challenges).toEqual(['tenant-7-secret']);
      const info = await client.getPhoneNumber(TOKEN, NUMBER, ['webhook_configuration']);
      expect(info.webhook_configuration).toMatchObject({ phone_number: uri });
      const refused = await client
        .updatePhoneNumber(TOKEN, NUMBER, {
          webhook_configuration: { override_callback_uri: uri, verify_token: 'wrong' },
        })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(MetaApiError);
      expect(refused).toMatchObject({ code: 2200, classification: { kind: 'permanent' } });
    } finally {
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});

describe('startMetaSandbox (testkit) against the built sandbox', () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('starts the default fixture on its own port, drives it through control, and stop() ends the process', async () => {
    const defaults = sandboxFixture();
    const second = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl });
    const other = createMetaClient({ baseUrl: second.baseUrl, version: 'v23.0' });
    try {
      expect(second.port).not.toBe(sandbox.port);
      expect(second.graphUrl()).toBe(`${second.baseUrl}/v23.0`);
      // The default world: a registered number reachable with the default token, and an
      // approved template it can send.
      expect(await other.getPhoneNumber(defaults.accessToken, defaults.phoneNumberId)).toMatchObject({
        id: defaults.phoneNumberId,
        display_phone_number: defaults.displayPhoneNumber,
        status: 'CONNECTED',
      });
      const sent = await other.sendMessage(defaults.accessToken, defaults.phoneNumberId, {
        to: '16505551234',
        type: 'template',
        template: { name: defaults.templateName, language: { code: defaults.templateLanguage } },
      });
      expect(await second.control.sentMessages()).toEqual([
        expect.objectContaining({ wamid: sent.messages[0]?.id, phoneNumberId: defaults.phoneNumberId }),
      ]);
      const wamid = await second.control.inboundText('+16505551234', 'Hi');
      expect(await second.control.inboundMessages()).toEqual([
        expect.objectContaining({
          wamid,
          from: '16505551234',
          type: 'text',
          phoneNumberId: defaults.phoneNumberId,
        }),
      ]);
      expect(await second.control.setFaults({ duplicateRate: 0.5 })).toMatchObject({ duplicateRate: 0.5 });
      const refused = await second.control.setTemplateStatus('999', 'PAUSED').catch((e: Error) => e);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toMatch(/POST \/_sandbox\/templates\/999\/status answered 404/);
      expect((refused as Error).message).not.toContain(second.adminToken);
    } finally {
      other.close();
      await second.stop();
    }
    expect(alive(second.pid)).toBe(false);
    await expect(fetch(`${second.baseUrl}/health`)).rejects.toThrow();
    await second.stop(); // idempotent
  });
});
