import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_SECRET, startReceiver } from './harness';

// testkit's control helpers for number health and accounts, as other apps' tests call them:
// against the *built* sandbox started by `startMetaSandbox`. testkit resolves the sandbox from
// a consuming package; a scratch one links to this package, as pnpm links a devDependency.

const ctx = useTestContext('sbxtestkit');
const scratch = mkdtempSync(join(tmpdir(), 'sandbox-testkit-'));
const consumer = join(scratch, 'consumer');
mkdirSync(join(consumer, 'node_modules', '@wapi'), { recursive: true });
symlinkSync(
  dirname(dirname(fileURLToPath(import.meta.url))),
  join(consumer, 'node_modules', '@wapi', 'meta-sandbox'),
  'dir',
);

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let sandbox: MetaSandbox;
const world = sandboxFixture({ appSecret: APP_SECRET });
beforeAll(async () => {
  receiver = await startReceiver();
  const seed = sandboxFixture({ appSecret: APP_SECRET, callbackUrl: receiver.url }).seed;
  sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed, from: consumer });
});
afterAll(async () => {
  await sandbox?.stop();
  await receiver?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const values = (field: string) => receiver.values(field);

describe('testkit control helpers for number health and accounts', () => {
  it('setPhoneNumberQuality defaults to the seed’s number and its webhook reaches the app', async () => {
    const answer = await sandbox.control.setPhoneNumberQuality({ messagingLimit: 'TIER_100K' });
    expect(answer).toMatchObject({ id: world.phoneNumberId, messagingLimit: 'TIER_100K' });
    await waitFor(() => values('phone_number_quality_update').length > 0, {
      timeoutMs: 5_000,
      what: 'quality',
    });
    expect(values('phone_number_quality_update')[0]).toEqual(answer.webhook);
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
  });

  it('accountUpdate and capabilityUpdate default to the seed’s WABA', async () => {
    const ban = await sandbox.control.accountUpdate({
      event: 'DISABLED_UPDATE',
      banInfo: { wabaBanState: 'SCHEDULE_FOR_DISABLE', wabaBanDate: 'April 17, 2026' },
    });
    expect(ban.wabaId).toBe(world.wabaId);
    const capability = await sandbox.control.capabilityUpdate({ maxPhoneNumbersPerBusiness: 2 });
    await waitFor(
      () => values('account_update').length > 0 && values('business_capability_update').length > 0,
      {
        timeoutMs: 5_000,
        what: 'account and capability webhooks',
      },
    );
    expect(values('account_update')[0]).toEqual({
      event: 'DISABLED_UPDATE',
      ban_info: { waba_ban_state: 'SCHEDULE_FOR_DISABLE', waba_ban_date: 'April 17, 2026' },
    });
    expect(values('business_capability_update')[0]).toEqual(capability.webhook);
  });

  it('setTemplateQuality names the previous score, and a bad call throws saying what the sandbox answered', async () => {
    const list = await fetch(`${sandbox.graphUrl()}/${world.wabaId}/message_templates`, {
      headers: { authorization: `Bearer ${world.accessToken}` },
    });
    const id = ((await list.json()) as { data: Array<{ id: string }> }).data[0]?.id ?? '';
    expect(await sandbox.control.setTemplateQuality(id, 'GREEN')).toEqual({
      id,
      previousQuality: 'UNKNOWN',
      quality: 'GREEN',
    });
    await expect(sandbox.control.accountUpdate({ event: 'ACCOUNT_VIOLATION' })).rejects.toThrow(
      /answered 400: VALIDATION_FAILED .*violationType/,
    );
  });
});
