import type { CreateTemplateResponse } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import { GraphError, invalidParam } from '../domain/graph-error';
import { createTemplate, reviewOutcome, statusUpdate, templateView } from '../domain/templates';
import type { Sandbox } from '../sandbox';
import { countManagementCall, requireWaba } from './graph-auth';

type Params = { version: string; wabaId: string };
type Query = { name?: string; status?: string; limit?: string; after?: string; hsm_id?: string };

/** `GET/POST/DELETE /{waba-id}/message_templates` (§7.1). */
export function registerTemplateRoutes(app: FastifyInstance, sandbox: Sandbox): void {
  const { world } = sandbox;

  app.get<{ Params: Params; Querystring: Query }>('/:version/:wabaId/message_templates', async (request) => {
    const waba = requireWaba(sandbox, request, request.params.wabaId);
    countManagementCall(sandbox, request, waba);
    const { name, status } = request.query;
    const limit = request.query.limit === undefined ? 25 : Number(request.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
      throw invalidParam('Param limit must be 1-1000.');
    const all = [...world.templates.values()]
      .filter((t) => t.wabaId === waba.id)
      .filter((t) => name === undefined || t.name === name)
      .filter((t) => status === undefined || t.status === status.toUpperCase());
    const start = request.query.after ? Number(Buffer.from(request.query.after, 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw invalidParam('Param after is not a valid cursor.');
    const page = all.slice(start, start + limit);
    const cursor = (n: number) => Buffer.from(String(n)).toString('base64url');
    return {
      data: page.map(templateView),
      ...(page.length > 0
        ? { paging: { cursors: { before: cursor(start), after: cursor(start + page.length) } } }
        : {}),
    };
  });

  app.post<{ Params: Params }>('/:version/:wabaId/message_templates', async (request) => {
    const waba = requireWaba(sandbox, request, request.params.wabaId);
    countManagementCall(sandbox, request, waba);
    const template = createTemplate(world, waba.id, request.body, sandbox.now());
    // PENDING → APPROVED/REJECTED after the configured review delay, with a status webhook (§7.4, §3.7).
    sandbox.later(sandbox.config.SANDBOX_TEMPLATE_REVIEW_MS, () => {
      if (world.templates.get(template.id) !== template || template.status !== 'PENDING') return;
      const outcome = reviewOutcome(template);
      template.status = outcome.status;
      sandbox.emitWaba(waba.id, 'message_template_status_update', {
        ...statusUpdate(template, outcome.reason),
      });
    });
    const response: CreateTemplateResponse = {
      id: template.id,
      status: template.status,
      category: template.category,
    };
    return response;
  });

  // §7.1: `?name=` deletes every language of that name; `&hsm_id=` only that one.
  app.delete<{ Params: Params; Querystring: Query }>(
    '/:version/:wabaId/message_templates',
    async (request) => {
      const waba = requireWaba(sandbox, request, request.params.wabaId);
      countManagementCall(sandbox, request, waba);
      const { name, hsm_id: hsmId } = request.query;
      if (!name) throw invalidParam('The parameter name is required.');
      const targets = [...world.templates.values()].filter(
        (t) => t.wabaId === waba.id && t.name === name && (hsmId === undefined || t.id === hsmId),
      );
      if (targets.length === 0)
        throw new GraphError(100, `Template ${name} was not found.`, { subcode: 2593002 });
      // §7.4: DISABLED templates cannot be deleted.
      if (targets.some((t) => t.status === 'DISABLED'))
        throw invalidParam('A disabled template cannot be deleted.');
      for (const t of targets) world.templates.delete(t.id);
      return { success: true };
    },
  );
}
