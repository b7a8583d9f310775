// The baseline for bench/gateway.mjs: a bare Fastify route doing exactly the gateway's access
// token verification (@fastify/jwt, EdDSA pinned, iss/aud checked), nothing else.
// Usage: node gateway-bare-jwt.mjs <port> <pem public key, base64> <issuer> <audience>
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [port, publicKeyB64, iss, aud] = process.argv.slice(2);
// The gateway's own copies of fastify and @fastify/jwt, so both sides run the same code.
const gatewayRequire = createRequire(
  join(dirname(fileURLToPath(import.meta.url)), '..', 'apps', 'gateway', 'package.json'),
);
const Fastify = gatewayRequire('fastify');
const fastifyJwt = gatewayRequire('@fastify/jwt');
const app = Fastify({ logger: false });
await app.register(fastifyJwt, {
  secret: { public: Buffer.from(publicKeyB64, 'base64').toString() },
  verify: { algorithms: ['EdDSA'], allowedIss: iss, allowedAud: aud },
});
app.get('/bare', async (request) => {
  const claims = await request.jwtVerify();
  return { ws: claims.ws };
});
await app.listen({ port: Number(port), host: '127.0.0.1' });
console.log('ready');
