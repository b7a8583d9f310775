import { connect, createServer, type Server, type Socket } from 'node:net';
import { markSuppressionReady } from '@wapi/consent';
import { sentKey } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import {
  type MetaSandbox,
  mintServiceToken,
  sandboxFixture,
  startMetaSandbox,
  testKeySet,
  useTestContext,
  waitFor,
} from '@wapi/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sendingOf } from '../src/app';
import { SERVICE } from '../src/config';
import { countOf } from '../src/metrics';
import { OUTCOME_UNKNOWN } from '../src/sender';
import { fileTokenSource } from '../src/tokens';
import { type queues, receivedCounts, startSender, templateSend, tokenFile, WS } from './helpers';

// A send whose request reached Meta but whose answer never came back (the connection drops
// after the request: the relay below forwards every request to the sandbox and cuts the
// connection as the answer starts). The sender must not call again; the message's status
// webhook (here: the stand-in that writes `sentKey` from the sandbox's record, as gateway
// will when it applies the webhook) settles it.
const ctx = useTestContext(SERVICE);
const world = sandboxFixture({ throughputMps: 80 });
let sandbox: MetaSandbox;
let relay: Server;
let app: ServiceApp;
let close: () => Promise<void>;
let q: ReturnType<typeof queues>;
const sockets = new Set<Socket>();
const droppedBeforeMeta = new Set<string>();

beforeAll(async () => {
  sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed: world.seed });
  await markSuppressionReady(ctx.redis, ctx.prefix);
  relay = createServer((client) => {
    const upstream = connect(sandbox.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.once('data', (head: Buffer) => {
      // The first request of a message marked `lost` never reaches Meta.
      const lost = /"biz_opaque_callback_data":"(lost_[^"]+)"/.exec(head.toString())?.[1];
      if (lost && !droppedBeforeMeta.has(lost)) {
        droppedBeforeMeta.add(lost);
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(head);
      client.pipe(upstream);
    });
    // The answer is lost on the way back: the request did reach Meta.
    upstream.once('data', () => {
      client.destroy();
      upstream.destroy();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  ({ app, q, close } = await startSender(ctx, {
    graphUrl: `http://127.0.0.1:${port}`,
    tokens: fileTokenSource(tokenFile(world.accessToken)),
    env: { LOG_LEVEL: 'silent', GRAPH_TIMEOUT_MS: '500', SENDER_SETTLE_WAIT_MS: '1000' },
  }));
}, 60_000);

afterAll(async () => {
  await close?.();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => relay?.close(resolve));
  await sandbox?.stop();
});

/** What gateway will do on the message's status webhook: record its wamid under `sentKey`. */
async function statusWebhookArrives(messageId: string): Promise<string> {
  const received = await waitFor(async () => (await receivedCounts(sandbox)).get(messageId)?.[0] ?? false, {
    what: `the sandbox to have message ${messageId}`,
  });
  await ctx.redis.set(sentKey(ctx.prefix, WS, messageId), received.wamid, 'PX', 7 * 24 * 3600_000);
  return received.wamid;
}

it('settles a send in doubt from its status webhook, without calling Graph again', async () => {
  const m = templateSend(world.phoneNumberId, '15559100001');
  await q.enqueue([m]);
  const wamid = await statusWebhookArrives(m.messageId);
  const events = await q.waitForEvents([m.messageId], 15_000);
  expect(events.get(m.messageId)?.[0]).toMatchObject({ status: 'sent', wamid });
  expect((await receivedCounts(sandbox)).get(m.messageId)).toHaveLength(1);
  const sending = sendingOf(app);
  if (!sending) throw new Error('the app was built without its send worker');
  expect(await countOf(sending.metrics, 'settled')).toBe(1);
}, 20_000);

it('dead-letters a send whose status never comes, and a replay after it came settles it instead of resending', async () => {
  const m = templateSend(world.phoneNumberId, '15559100002');
  await q.enqueue([m]);
  const jobId = `${WS}~${m.messageId}`;
  const failed = await waitFor(
    async () => {
      const job = await q.send.queue.getJob(jobId);
      return (await job?.isFailed()) ? job : false;
    },
    { timeoutMs: 15_000, what: 'the message to be dead-lettered' },
  );
  expect(failed.failedReason).toMatch(new RegExp(`^${OUTCOME_UNKNOWN}`));
  expect((await receivedCounts(sandbox)).get(m.messageId)).toHaveLength(1);

  const wamid = await statusWebhookArrives(m.messageId);
  const gateway = testKeySet().get('gateway');
  const replay = await app.inject({
    method: 'POST',
    url: '/internal/v1/dead-letters/replay',
    headers: {
      authorization: `Bearer ${mintServiceToken(gateway?.privateKey ?? '', { iss: 'gateway', aud: SERVICE })}`,
    },
    payload: { jobIds: [jobId] },
  });
  expect(replay.json()).toEqual({ replayed: [jobId], refused: [] });
  const events = await q.waitForEvents([m.messageId]);
  expect(events.get(m.messageId)?.[0]).toMatchObject({ status: 'sent', wamid });
  expect((await receivedCounts(sandbox)).get(m.messageId)).toHaveLength(1);
}, 30_000);

it('sends again a message whose call never reached Meta, once a later message shows status webhooks flow', async () => {
  // Its first request is lost on the way to Meta; the sender cannot tell that from a lost answer.
  const lost = templateSend(world.phoneNumberId, '15559100003', { messageId: `lost_${Date.now()}` });
  await q.enqueue([lost]);
  await waitFor(async () => droppedBeforeMeta.has(lost.messageId), { what: 'its first call to be lost' });
  // A later message reaches Meta, and its status webhook arrives: statuses are flowing.
  const later = templateSend(world.phoneNumberId, '15559100004');
  await q.enqueue([later]);
  await statusWebhookArrives(later.messageId);
  await q.waitForEvents([later.messageId]);
  // After the settle wait the lost one is sent again (its answer is lost too: settled).
  await statusWebhookArrives(lost.messageId);
  const events = await q.waitForEvents([lost.messageId], 15_000);
  expect(events.get(lost.messageId)?.[0]?.status).toBe('sent');
  expect((await receivedCounts(sandbox)).get(lost.messageId)).toHaveLength(1);
  const sending = sendingOf(app);
  if (!sending) throw new Error('the app was built without its send worker');
  expect(await countOf(sending.metrics, 'resent_after_doubt')).toBe(1);
}, 30_000);
