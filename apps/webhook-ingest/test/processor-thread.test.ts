import { fileURLToPath } from 'node:url';
import {
  freePort,
  inboundTextMessage,
  messagesChange,
  newWamid,
  type SpawnedService,
  serviceEnv,
  signedWebhook,
  spawnService,
  useTestContext,
  waitFor,
  webhookEnvelope,
} from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNumber, jobsIn, SECRET_NEW, sampleOf } from './helpers';

/**
 * The built server with PROCESSOR_THREAD=true: journaled webhooks are processed in a worker
 * thread with its own connections. (The in-process tests and the fault tests run the default,
 * the same processor in the acknowledging thread.)
 */
const ctx = useTestContext('whthread');
const entry = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const PNID = '106540352242922';
let port: number;
let ingest: SpawnedService;

beforeAll(async () => {
  port = await freePort();
  ingest = spawnService(
    entry,
    serviceEnv(ctx, 'webhook-ingest', {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DEV_META_APP_SECRETS: SECRET_NEW,
      PROCESSOR_THREAD: 'true',
    }),
  );
  await waitFor(
    async () => {
      if (ingest.child.exitCode !== null) throw new Error(`exited:\n${ingest.output()}`);
      return (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.ok === true;
    },
    { what: 'webhook-ingest ready', timeoutMs: 20_000 },
  );
  await connectNumber(ctx, PNID, 'ws_thread');
});
afterAll(async () => {
  if (ingest.child.exitCode === null) ingest.child.kill('SIGKILL');
});

const post = (wamid: string) => {
  const { body, headers } = signedWebhook(
    webhookEnvelope({
      wabaId: '100000000000001',
      changes: [
        messagesChange({
          phoneNumberId: PNID,
          messages: [inboundTextMessage({ from: '15550000042', id: wamid, text: 'via the thread' })],
        }),
      ],
    }),
    SECRET_NEW,
  );
  return fetch(`http://127.0.0.1:${port}/api/v1/webhook`, { method: 'POST', body, headers });
};

describe('processing in a worker thread (the built server, PROCESSOR_THREAD=true)', () => {
  it('emits every journaled webhook once, counts it in the metrics, and stops cleanly on SIGTERM', async () => {
    const wamids = Array.from({ length: 5 }, () => newWamid());
    // Five messages, the first delivered twice (Meta's retry): five inbound jobs, one duplicate.
    const answers = await Promise.all([...wamids, wamids[0] as string].map(post));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);

    // The thread's counters reach the process's /metrics.
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return sampleOf(text, 'webhook_processed_total') >= 6 ? text : undefined;
      },
      { what: 'six journal entries processed', timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(sampleOf(metrics, 'webhook_processed_total')).toBe(6);
    expect(sampleOf(metrics, 'webhook_duplicates_total')).toBe(1);
    expect(sampleOf(metrics, 'webhook_items_emitted_total')).toBe(5);
    expect(sampleOf(metrics, 'webhook_journal_lag_entries')).toBe(0);

    const inbound = (await jobsIn(ctx, 'message.inbound.v1')).filter((j) =>
      wamids.includes(String(j.data.wamid)),
    );
    expect(inbound.map((j) => j.data.wamid).sort()).toEqual([...wamids].sort());
    expect(inbound.every((j) => j.data.workspaceId === 'ws_thread')).toBe(true);
    // The thread also wrote the done marks (its own database connection).
    const marks = await ctx.db.collection<{ entries: string[] }>('webhook_done').find({}).toArray();
    expect(marks.flatMap((m) => m.entries)).toHaveLength(6);

    ingest.child.kill('SIGTERM');
    const exited = await ingest.exited;
    expect(exited.code).toBe(0);
  }, 60_000);
});
