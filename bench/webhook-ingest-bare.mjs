// The baseline for bench/webhook-ingest.mjs: a bare Fastify server that reads the raw body and
// verifies X-Hub-Signature-256 (HMAC-SHA256, timingSafeEqual), nothing else.
// Usage: PORT=… APP_SECRET=… node bench/webhook-ingest-bare.mjs
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(import.meta.dirname, '../apps/webhook-ingest/package.json'));
const Fastify = require('fastify');
const secret = process.env.APP_SECRET;
const app = Fastify({ bodyLimit: 3 * 1024 * 1024 });
app.removeContentTypeParser('application/json');
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.get('/health/ready', async () => ({ ok: true }));
app.post('/api/v1/webhook', async (request, reply) => {
  const header = String(request.headers['x-hub-signature-256'] ?? '');
  const given = Buffer.from(header.slice(7), 'hex');
  const expected = createHmac('sha256', secret).update(request.body).digest();
  if (!header.startsWith('sha256=') || given.length !== 32 || !timingSafeEqual(given, expected))
    return reply.code(401).send({ error: 'signature' });
  return { received: true };
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
