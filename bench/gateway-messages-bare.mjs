// The baseline for bench/gateway-messages.mjs: a bare Fastify route validating the body of
// POST /api/v1/messages with exactly the gateway's schema (read from docs/openapi.json) and
// answering 202, nothing else (no auth, no store, no queue).
// Usage: node gateway-messages-bare.mjs <port>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [port] = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The gateway's own copy of fastify, so both sides validate with the same Ajv.
const Fastify = createRequire(join(root, 'apps', 'gateway', 'package.json'))('fastify');
const openapi = JSON.parse(readFileSync(join(root, 'docs', 'openapi.json'), 'utf8'));
const schema = openapi.paths['/api/v1/messages'].post.requestBody.content['application/json'].schema;
const app = Fastify({ logger: false });
app.post('/bare', { schema: { body: schema } }, async (_request, reply) =>
  reply.code(202).send({ id: 'msg_0000000000000000000000', status: 'accepted' }),
);
await app.listen({ port: Number(port), host: '127.0.0.1' });
console.log('ready');
