import { Writable } from 'node:stream';
import {
  messagesChange,
  newWamid,
  signedWebhook,
  statusUpdate,
  useTestContext,
  waitFor,
  webhookEnvelope,
} from '@wapi/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestUnderTest, sampleOf, startIngest, startVault } from './helpers';

const ctx = useTestContext('whsecrets');
const APP_A = '710000000000001';
const APP_B = '720000000000002';
const SECRET_A = 'vault-app-secret-a-0123456789abcdef';
const SECRET_A_NEXT = 'vault-app-secret-a-next-fedcba9876543';
const SECRET_B = 'vault-app-secret-b-00112233445566778';
const PNID = '106540352242922';

let vault: Awaited<ReturnType<typeof startVault>>;
let ingest: IngestUnderTest | undefined;
const logLines: string[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);
const fromVault = (appIds: string, url = vault.url) => ({
  META_APP_IDS: appIds,
  VAULT_URL: url,
  DEV_META_APP_SECRETS: '',
  // The tests refresh on their own (app.webhookSecretsRefresh), so no timer races them.
  APP_SECRET_REFRESH_MS: '3600000',
});

beforeAll(async () => {
  vault = await startVault(ctx);
  await vault.asGateway.put('platform', 'meta.app_secret', APP_A, SECRET_A);
  await vault.asGateway.put('platform', 'meta.app_secret', APP_B, SECRET_B);
}, 60_000);
afterAll(async () => {
  await ingest?.close();
  await vault?.stop();
});

/** POSTs a fresh status webhook signed with `secret`; returns the answer's status code. */
async function postSignedWith(secret: string): Promise<number> {
  const { body, headers } = signedWebhook(
    webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          statuses: [statusUpdate({ wamid: newWamid(), status: 'sent' })],
        }),
      ],
    }),
    secret,
  );
  return (await ingest!.app.inject({ method: 'POST', url: '/api/v1/webhook', payload: body, headers }))
    .statusCode;
}
const metric = async (name: string) => sampleOf((await ingest!.app.inject({ url: '/metrics' })).body, name);

describe('app secrets from vault', () => {
  it('fails start-up saying what to do when vault holds none of the configured apps, or cannot be reached', async () => {
    await expect(startIngest(ctx, fromVault('799999999999999'))).rejects.toThrow(
      /vault holds no Meta app secret for META_APP_IDS=799999999999999 .*store the app secret/,
    );
    await expect(startIngest(ctx, fromVault(APP_A, 'http://127.0.0.1:1'))).rejects.toThrow(
      /cannot read the Meta app secrets from vault at http:\/\/127\.0\.0\.1:1 .*check VAULT_URL/,
    );
  });

  it('verifies a body signed with the secret of either configured app, and refuses any other', async () => {
    ingest = await startIngest(ctx, fromVault(`${APP_A},${APP_B}`), log);
    expect(await postSignedWith(SECRET_A)).toBe(200);
    expect(await postSignedWith(SECRET_B)).toBe(200);
    expect(await postSignedWith('some-other-app-secret')).toBe(401);
    expect(await metric('webhook_app_secrets')).toBe(2);
  });

  it('accepts the incoming secret of a rotation once refreshed, and refuses the old one after the rotation ends', async () => {
    // The rotation starts: gateway stores the new secret beside the current one.
    await vault.asGateway.put('platform', 'meta.app_secret', `${APP_A}.next`, SECRET_A_NEXT);
    expect(await ingest!.app.webhookSecretsRefresh!()).toBe(true);
    expect(await postSignedWith(SECRET_A_NEXT)).toBe(200);
    expect(await postSignedWith(SECRET_A)).toBe(200); // both during the overlap

    // It ends: the new secret becomes the current record, the `.next` one goes.
    await vault.asGateway.rotate('platform', 'meta.app_secret', APP_A, SECRET_A_NEXT);
    await vault.asGateway.delete('platform', 'meta.app_secret', `${APP_A}.next`);
    // An app removed altogether stops verifying too.
    await vault.asGateway.delete('platform', 'meta.app_secret', APP_B);
    expect(await ingest!.app.webhookSecretsRefresh!()).toBe(true);
    expect(await postSignedWith(SECRET_A)).toBe(401);
    expect(await postSignedWith(SECRET_B)).toBe(401);
    expect(await postSignedWith(SECRET_A_NEXT)).toBe(200);
    expect(await metric('webhook_app_secrets')).toBe(1);
  });

  it("takes a rotation or removal into account at once through vault's change feed", async () => {
    // No refresh call here: vault's SecretChanged message triggers it.
    const rotated = 'vault-app-secret-a-feed-0123456789ab';
    await vault.asGateway.put('platform', 'meta.app_secret', `${APP_A}.next`, rotated);
    await waitFor(async () => (await postSignedWith(rotated)) === 200, {
      what: 'the .next secret accepted after the change feed',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    await vault.asGateway.delete('platform', 'meta.app_secret', `${APP_A}.next`);
    await waitFor(async () => (await postSignedWith(rotated)) === 401, {
      what: 'the deleted secret refused after the change feed',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(await postSignedWith(SECRET_A_NEXT)).toBe(200);
  });

  it('keeps the last good secrets while vault is unreachable, and never logs a secret', async () => {
    await vault.stop();
    expect(await ingest!.app.webhookSecretsRefresh!()).toBe(false);
    expect(await postSignedWith(SECRET_A_NEXT)).toBe(200);
    expect(await metric('webhook_app_secret_refresh_failures_total')).toBe(1);

    const logs = logLines.join('');
    expect(logs).toContain('Meta app secrets loaded from vault');
    expect(logs).toContain('the last good set stays active');
    for (const secret of [SECRET_A, SECRET_A_NEXT, SECRET_B, 'vault-app-secret-a-feed-0123456789ab'])
      expect(logs).not.toContain(secret);
  });
});
