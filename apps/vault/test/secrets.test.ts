import { randomBytes } from 'node:crypto';
import { useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type Harness, newKey, secretUrl, startVault, vaultEnv } from './harness';

const ctx = useTestContext('vault-secrets');
const master = newKey();
let vault: Harness;

beforeAll(async () => {
  vault = await startVault(ctx, vaultEnv(ctx, { TOKEN_MASTER_KEY: master }));
});
afterAll(() => vault?.close());

const token = () => `EAAG${randomBytes(24).toString('hex')}`;

describe('vault secrets over internal HTTP', () => {
  it('stores a Meta token for gateway and hands it to message-sender', async () => {
    const value = token();
    const url = secretUrl('ws_rt', 'meta.access_token', 'waba_1');
    const put = await vault.call('gateway', 'PUT', url, { value });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({
      workspaceId: 'ws_rt',
      purpose: 'meta.access_token',
      recordId: 'waba_1',
      revision: 1,
      kekVersion: 1,
    });
    expect(put.body).not.toContain(value);

    const got = await vault.call('message-sender', 'GET', url);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({ value, revision: 1, kekVersion: 1 });

    // The stored form is an envelope naming its key version, never the value.
    const docs = await ctx.db.collection('secrets').find({ workspaceId: 'ws_rt' }).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0]!.sealed).toMatch(/^vault:v1:/);
    expect(JSON.stringify(docs)).not.toContain(value);
  });

  it('answers 403 VAULT_ACCESS_DENIED to a caller outside the purpose, and audits the refusal', async () => {
    const url = secretUrl('ws_deny', 'meta.access_token', 'waba_1');
    await vault.call('gateway', 'PUT', url, { value: token() });
    const res = await vault.call('webhook-ingest', 'GET', url);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('VAULT_ACCESS_DENIED');
    const write = await vault.call('message-sender', 'PUT', url, { value: token() });
    expect(write.statusCode).toBe(403);
    const refused = (await auditEvents(ctx)).filter(
      (e) => e.workspaceId === 'ws_deny' && e.action === 'vault.access.refused',
    );
    expect(refused).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actor: { type: 'service', id: 'webhook-ingest' },
          target: { type: 'secret', id: 'waba_1' },
          data: { purpose: 'meta.access_token', operation: 'read' },
        }),
        expect.objectContaining({
          actor: { type: 'service', id: 'message-sender' },
          data: expect.objectContaining({ operation: 'write' }),
        }),
      ]),
    );
  });

  it('lets webhook-ingest read an app secret but not write one', async () => {
    const url = secretUrl('ws_app', 'meta.app_secret', 'app_1');
    const value = token();
    expect((await vault.call('gateway', 'PUT', url, { value })).statusCode).toBe(200);
    expect((await vault.call('webhook-ingest', 'GET', url)).json().value).toBe(value);
    expect((await vault.call('webhook-ingest', 'PUT', url, { value })).statusCode).toBe(403);
    expect((await vault.call('message-sender', 'GET', url)).statusCode).toBe(403);
  });

  it('rotates a value: the next read gets the new one, the old ciphertext is gone', async () => {
    const url = secretUrl('ws_rot', 'meta.access_token', 'waba_1');
    const [first, second] = [token(), token()];
    await vault.call('gateway', 'PUT', url, { value: first });
    expect((await vault.call('message-sender', 'GET', url)).json().value).toBe(first);
    const rotated = await vault.call('gateway', 'POST', `${url}/rotate`, { value: second });
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json().revision).toBe(2);
    expect((await vault.call('message-sender', 'GET', url)).json()).toMatchObject({
      value: second,
      revision: 2,
    });
    const docs = await ctx.db.collection('secrets').find({ workspaceId: 'ws_rot' }).toArray();
    expect(docs.map((d) => d.revision)).toEqual([2]);
  });

  it('answers 404 VAULT_SECRET_NOT_FOUND to a read or rotation of a secret never stored', async () => {
    const url = secretUrl('ws_none', 'meta.access_token', 'waba_x');
    const read = await vault.call('gateway', 'GET', url);
    expect(read.statusCode).toBe(404);
    expect(read.json().error.code).toBe('VAULT_SECRET_NOT_FOUND');
    expect((await vault.call('gateway', 'POST', `${url}/rotate`, { value: token() })).statusCode).toBe(404);
  });

  it('deletes a secret with its ciphertexts; reads then answer 404', async () => {
    const url = secretUrl('ws_del', 'meta.access_token', 'waba_1');
    await vault.call('gateway', 'PUT', url, { value: token() });
    const del = await vault.call('compliance', 'DELETE', url);
    expect(del.json()).toEqual({ deleted: true });
    expect((await vault.call('message-sender', 'GET', url)).statusCode).toBe(404);
    expect((await vault.call('compliance', 'DELETE', url)).json()).toEqual({ deleted: false });
    const docs = await ctx.db.collection('secrets').find({ workspaceId: 'ws_del' }).toArray();
    expect(docs.every((d) => d.deleted === true && d.sealed === undefined)).toBe(true);
    // A value stored again after a deletion starts a new revision.
    const again = await vault.call('gateway', 'PUT', url, { value: token() });
    expect(again.json().revision).toBe(3);
  });

  it('lists metadata of the purposes the caller may use, never values', async () => {
    const value = token();
    await vault.call('gateway', 'PUT', secretUrl('ws_list', 'meta.access_token', 'waba_1'), { value });
    await vault.call('gateway', 'PUT', secretUrl('ws_list', 'meta.app_secret', 'app_1'), { value: token() });
    const forSender = await vault.call('message-sender', 'GET', '/internal/v1/workspaces/ws_list/secrets');
    expect(forSender.statusCode).toBe(200);
    expect(forSender.json().secrets.map((s: { purpose: string }) => s.purpose)).toEqual([
      'meta.access_token',
    ]);
    const forGateway = await vault.call('gateway', 'GET', '/internal/v1/workspaces/ws_list/secrets');
    expect(forGateway.json().secrets).toHaveLength(2);
    expect(forGateway.body).not.toContain(value);
  });

  it('audits every put, read, rotation and deletion with actor, purpose and record, never the value', async () => {
    const url = secretUrl('ws_audit', 'meta.access_token', 'waba_9');
    const values = [token(), token()];
    await vault.call('gateway', 'PUT', url, { value: values[0] });
    await vault.call('message-sender', 'GET', url);
    await vault.call('gateway', 'POST', `${url}/rotate`, { value: values[1] });
    await vault.call('gateway', 'DELETE', url);
    const events = (await auditEvents(ctx)).filter((e) => e.workspaceId === 'ws_audit');
    expect(events.map((e) => `${e.actor.id} ${e.action}`).sort()).toEqual(
      [
        'gateway vault.secret.put',
        'message-sender vault.secret.read',
        'gateway vault.secret.rotated',
        'gateway vault.secret.deleted',
      ].sort(),
    );
    for (const event of events) {
      expect(event.target).toEqual({ type: 'secret', id: 'waba_9' });
      expect(event.data?.purpose).toBe('meta.access_token');
    }
    for (const value of values) expect(JSON.stringify(events)).not.toContain(value);
  });

  it('refuses bad input: unknown purpose, malformed record id, empty value', async () => {
    expect(
      (await vault.call('gateway', 'PUT', secretUrl('ws_bad', 'meta.password', 'x'), { value: 'v' }))
        .statusCode,
    ).toBe(400);
    expect(
      (await vault.call('gateway', 'PUT', secretUrl('ws_bad', 'meta.access_token', 'a%2Fb'), { value: 'v' }))
        .statusCode,
    ).toBe(400);
    const empty = await vault.call('gateway', 'PUT', secretUrl('ws_bad', 'meta.access_token', 'w'), {
      value: '',
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('VALIDATION_FAILED');
  });
});

describe('key ring rotation through the service', () => {
  it('keeps old secrets readable after a new key version, seals new ones with it, and refuses old ones once retired', async () => {
    const url1 = secretUrl('ws_ring', 'meta.access_token', 'old');
    const url2 = secretUrl('ws_ring', 'meta.access_token', 'new');
    const [v1, v2] = [token(), token()];
    await vault.call('gateway', 'PUT', url1, { value: v1 });

    const rotated = await startVault(
      ctx,
      vaultEnv(ctx, { TOKEN_MASTER_KEY: master, VAULT_KEYS: `2=${newKey()}` }),
    );
    try {
      expect((await rotated.call('message-sender', 'GET', url1)).json()).toMatchObject({
        value: v1,
        kekVersion: 1,
      });
      expect((await rotated.call('gateway', 'PUT', url2, { value: v2 })).json().kekVersion).toBe(2);
    } finally {
      await rotated.close();
    }
  });

  it('refuses to seal past VAULT_KEY_MAX_ENCRYPTIONS for a key version with 503 VAULT_KEY_EXHAUSTED', async () => {
    const bounded = await startVault(
      ctx,
      vaultEnv(ctx, {
        TOKEN_MASTER_KEY: master,
        VAULT_KEYS: `7=${newKey()}`,
        VAULT_KEY_MAX_ENCRYPTIONS: '2',
      }),
    );
    try {
      const url = secretUrl('ws_bound', 'meta.access_token', 'w');
      expect((await bounded.call('gateway', 'PUT', url, { value: token() })).statusCode).toBe(200);
      expect((await bounded.call('gateway', 'PUT', url, { value: token() })).statusCode).toBe(200);
      const third = await bounded.call('gateway', 'PUT', url, { value: token() });
      expect(third.statusCode).toBe(503);
      expect(third.json().error.code).toBe('VAULT_KEY_EXHAUSTED');
    } finally {
      await bounded.close();
    }
  });
});
