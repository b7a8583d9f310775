import { Type } from '@sinclair/typebox';
import { ErrorResponse } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import { conversationsView } from '../domain/conversations';
import type { World } from '../domain/world';
import { PAGE_HTML, PAGE_JS } from '../ui/page';
import { adminGuard } from './control';

// The page and its script are static and hold no data; only the state route needs the
// admin token. No inline script, so the policy can forbid everything else.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'";

/** `GET /_sandbox` (the page), `/_sandbox/ui.js`, and `GET /_sandbox/ui/state` (admin). */
/** The UI reads the world and checks the admin token; nothing else. */
export interface UiDeps {
  world: World;
  adminToken: string;
}

export async function uiRoutes(app: FastifyInstance, deps: UiDeps): Promise<void> {
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
    scope.addHook('onRequest', adminGuard(deps.adminToken));
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
      async () => ({ numbers: conversationsView(deps.world) }),
    );
  });
}
