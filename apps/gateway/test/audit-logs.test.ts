import { type StartedService, startCompliance, useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, type Harness, startGateway } from './harness';

const ctx = useTestContext('gwaudit');
let compliance: StartedService;
let gw: Harness;

beforeAll(async () => {
  // The real compliance service, built (turbo builds it before this package's tests).
  compliance = await startCompliance(ctx);
  gw = await startGateway(ctx, gatewayEnv(ctx, { COMPLIANCE_URL: compliance.url }));
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await compliance?.stop();
});

describe('GET /api/v1/audit-logs (through compliance)', () => {
  it('lists the workspace’s own audited calls with filters and cursor pages, exports CSV and verifies the chain', async () => {
    const a = await gw.signup('audita');
    const b = await gw.signup('auditb');
    const token = a.tokens.accessToken;
    for (const role of ['viewer', 'agent'] as const) {
      expect(
        (await gw.call('POST', '/api/v1/api-keys', { token, body: { name: role, role } })).statusCode,
      ).toBe(201);
    }
    await gw.call('PATCH', '/api/v1/workspace', { token, body: { name: 'renamed' } });
    await gw.call('PATCH', '/api/v1/workspace', { token: b.tokens.accessToken, body: { name: 'b renamed' } });

    // compliance appends from the queue: wait (bounded) until all three of A's calls are in.
    const all = await waitFor(
      async () => {
        const page = (await gw.call('GET', '/api/v1/audit-logs', { token })).json();
        return page.entries?.length >= 3 ? page : undefined;
      },
      { timeoutMs: 15_000, what: 'three audit entries for workspace A' },
    );
    expect(all.entries.every((e: { actor: { id: string } }) => e.actor.id === a.user.id)).toBe(true);
    expect(JSON.stringify(all)).not.toContain(b.user.id);

    const keys = (
      await gw.call('GET', '/api/v1/audit-logs?action=POST%20/api/v1/api-keys', { token })
    ).json();
    expect(keys.entries).toHaveLength(2);
    expect(keys.entries[0]).toMatchObject({
      target: { type: 'workspace', id: a.workspace.id },
      outcome: 'success',
    });

    const first = (await gw.call('GET', '/api/v1/audit-logs?limit=1', { token })).json();
    expect(first.entries).toHaveLength(1);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (
      await gw.call('GET', `/api/v1/audit-logs?limit=1&cursor=${first.nextCursor}`, { token })
    ).json();
    expect(second.entries[0].seq).toBeLessThan(first.entries[0].seq);

    const verify = await gw.call('POST', '/api/v1/audit-logs/verify', { token });
    expect(verify.statusCode).toBe(200);
    expect(verify.json().valid).toBe(true);

    const csv = await gw.call('GET', '/api/v1/audit-logs/export.csv', { token });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body).toContain('PATCH /api/v1/workspace');
    expect(csv.body).not.toContain(b.user.id);
  }, 30_000);

  it('refuses roles without audit:read', async () => {
    const a = await gw.signup('auditr');
    const key = await gw.call('POST', '/api/v1/api-keys', {
      token: a.tokens.accessToken,
      body: { name: 'agent', role: 'agent' },
    });
    const answer = await gw.call('GET', '/api/v1/audit-logs', { token: key.json().key });
    expect(answer.statusCode).toBe(403);
  });
});
