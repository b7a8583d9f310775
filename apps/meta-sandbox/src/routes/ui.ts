import { Type } from '@sinclair/typebox';
import { ErrorResponse } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import { conversationsView } from '../domain/conversations';
import type { Sandbox } from '../sandbox';
import { PAGE_HTML, PAGE_JS } from '../ui/page';
import { adminGuard } from './control';

// The page and its script are static and hold no data; only the state route needs the
// admin token. No inline script, so the policy can forbid everything else.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'";

/** `GET /_sandbox` (the page), `/_sandbox/ui.js`, and `GET /_sandbox/ui/state` (admin). */
export async function uiRoutes(app: FastifyInstance, { sandbox }: { sandbox: Sandbox }): Promise<void> {
  const html = { schema: { response: { 200: Type.String({ description: 'the page (text/html)' }) } } };
  const script = {
    schema: { response: { 200: Type.String({ description: 'its script (text/javascript)' }) } },
  };
  app.get('/', html, async (_request, reply) =>
    reply.header('content-security-policy', CSP).type('text/html; charset=utf-8').send(PAGE_HTML),
  );
  app.get('/ui.js', script, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(PAGE_JS),
  );
  app.register(async (scope) => {
    scope.addHook('onRequest', adminGuard(sandbox.config.SANDBOX_ADMIN_TOKEN));
    scope.get(
      '/ui/state',
      {
        schema: {
          response: {
            // The page's own view model (not a contract): open, so nothing is dropped.
            200: Type.Object({ numbers: Type.Array(Type.Object({}, { additionalProperties: true })) }),
            '4xx': ErrorResponse,
          },
        },
      },
      async () => ({ numbers: conversationsView(sandbox.world) }),
    );
  });
}
