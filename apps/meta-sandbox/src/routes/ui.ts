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
  app.get('/', async (_request, reply) =>
    reply.header('content-security-policy', CSP).type('text/html; charset=utf-8').send(PAGE_HTML),
  );
  app.get('/ui.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(PAGE_JS));
  app.register(async (scope) => {
    scope.addHook('onRequest', adminGuard(sandbox.config.SANDBOX_ADMIN_TOKEN));
    scope.get('/ui/state', async () => ({ numbers: conversationsView(sandbox.world) }));
  });
}
