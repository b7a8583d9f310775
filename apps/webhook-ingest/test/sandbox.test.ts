import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNumber,
  connectWaba,
  type IngestUnderTest,
  jobsIn,
  SECRET_NEW,
  startIngest,
  VERIFY_TOKEN,
} from './helpers';

const ctx = useTestContext('whsandbox');
let ingest: IngestUnderTest;
let sandbox: MetaSandbox;
let world: ReturnType<typeof sandboxFixture>;
const TEMPLATE_ID = '940000000000001';

beforeAll(async () => {
  ingest = await startIngest(ctx);
  await ingest.app.listen({ host: '127.0.0.1', port: 0 });
  const address = ingest.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // The sandbox runs the GET handshake against us before it accepts the callback URL.
  world = sandboxFixture({
    appSecret: SECRET_NEW,
    callbackUrl: `http://127.0.0.1:${port}/api/v1/webhook`,
    verifyToken: VERIFY_TOKEN,
    template: { id: TEMPLATE_ID },
  });
  sandbox = await startMetaSandbox({
    redisUrl: ctx.infra.redisUrl,
    seed: world.seed,
    env: { SANDBOX_DETERMINISTIC: 'true' },
  });
  await connectNumber(ctx, world.phoneNumberId, 'ws_sbx');
  await connectWaba(ctx, world.wabaId, 'ws_sbx');
}, 60_000);
afterAll(async () => {
  await sandbox?.stop();
  await ingest?.close();
});

describe('through meta-sandbox', () => {
  it('processes batched, Meta-encoded deliveries each delivered twice, exactly once', async () => {
    await sandbox.control.setFaults({ duplicateRate: 1 });
    const texts = Array.from({ length: 40 }, (_, i) => ({
      from: `1555000${String(1000 + i)}`,
      text: i % 2 ? `olá ${i} 😀 / ação` : `hello ${i}`,
    }));
    const wamids = await Promise.all(texts.map((t) => sandbox.control.inboundText(t.from, t.text)));
    await waitFor(async () => (await sandbox.control.webhooks(1)).idle, {
      what: 'sandbox deliveries',
      timeoutMs: 20_000,
    });
    await ingest.app.webhookProcessor?.idle();
    const stats = await sandbox.control.webhooks(1000);
    expect(stats.stats.duplicates).toBeGreaterThan(0);
    expect(stats.stats.givenUp).toBe(0);

    const inbound = (await jobsIn(ctx, 'message.inbound.v1')).filter((j) =>
      wamids.includes(String(j.data.wamid)),
    );
    expect(inbound).toHaveLength(40);
    expect(new Set(inbound.map((j) => j.data.wamid)).size).toBe(40);
    const byWamid = new Map(inbound.map((j) => [j.data.wamid, j.data]));
    texts.forEach((t, i) => {
      expect(byWamid.get(wamids[i])).toMatchObject({
        workspaceId: 'ws_sbx',
        from: t.from,
        content: { type: 'text', text: { body: t.text } },
      });
    });
    const rejected = (await ingest.internal('GET', '/internal/v1/webhook/stats')).json() as {
      rejected: Record<string, number>;
      duplicates: number;
    };
    expect(rejected.rejected).toEqual({});
    expect(rejected.duplicates).toBeGreaterThan(0);
  });

  it("emits the sandbox's template status webhook as account.update.v1 for the WABA's workspace", async () => {
    await sandbox.control.setFaults({ duplicateRate: 1 });
    await sandbox.control.setTemplateStatus(TEMPLATE_ID, 'PAUSED');
    const job = await waitFor(
      async () => {
        await ingest.app.webhookProcessor?.idle();
        const jobs = (await jobsIn(ctx, 'account.update.v1')).filter((j) => j.data.wabaId === world.wabaId);
        return jobs.length > 0 ? jobs : undefined;
      },
      { what: 'the template status update emitted', timeoutMs: 20_000, intervalMs: 100 },
    );
    await waitFor(async () => (await sandbox.control.webhooks(1)).idle, {
      what: 'sandbox deliveries',
      timeoutMs: 20_000,
    });
    await ingest.app.webhookProcessor?.idle();
    // Delivered twice (duplicateRate 1), emitted once.
    expect(
      (await jobsIn(ctx, 'account.update.v1')).filter((j) => j.data.wabaId === world.wabaId),
    ).toHaveLength(1);
    expect(job[0]?.data).toMatchObject({
      workspaceId: 'ws_sbx',
      change: {
        kind: 'template_status',
        templateId: TEMPLATE_ID,
        name: world.templateName,
        language: world.templateLanguage,
        status: 'PAUSED',
      },
    });
  });
});
