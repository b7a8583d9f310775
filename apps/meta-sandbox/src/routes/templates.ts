import type { CreateTemplateResponse } from '@wapi/contracts';
import { CreateTemplateResponse as CreateTemplateAnswer, GraphSuccess } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { FastifyRequest } from 'fastify';
import { GraphError, invalidParam, unknownObject } from '../domain/graph-error';
import { selectFields } from '../domain/phone-number-view';
import { createTemplate, reviewOutcome, statusUpdate, templateView } from '../domain/templates';
import type { Template } from '../domain/world';
import type { Sandbox } from '../sandbox';
import { canAccessWaba, countManagementCall, requireWaba, tokenOf } from './graph-auth';
import { GraphNodeList, graphAnswers, IdParams, TemplateQuery, WabaParams } from './graph-schemas';

/** A template the request's token can see; others answer like unknown ids (Graph's way). */
export function templateFor(sandbox: Sandbox, request: FastifyRequest, id: string): Template | undefined {
  const template = sandbox.world.templates.get(id);
  return template && canAccessWaba(tokenOf(request), template.wabaId) ? template : undefined;
}

/** PENDING → APPROVED/REJECTED after the configured review delay, with a status webhook (§7.4, §3.7). */
export function scheduleReview(sandbox: Sandbox, template: Template): void {
  sandbox.later(sandbox.config.SANDBOX_TEMPLATE_REVIEW_MS, () => {
    if (sandbox.world.templates.get(template.id) !== template || template.status !== 'PENDING') return;
    const outcome = reviewOutcome(template);
    template.status = outcome.status;
    sandbox.emitWaba(template.wabaId, 'message_template_status_update', {
      ...statusUpdate(template, outcome.reason),
    });
  });
}

/** `GET/POST/DELETE /{waba-id}/message_templates` (§7.1). */
export function registerTemplateRoutes(app: ServiceApp, sandbox: Sandbox): void {
  const { world } = sandbox;

  app.get(
    '/:wabaId/message_templates',
    { schema: { params: WabaParams, querystring: TemplateQuery, response: graphAnswers(GraphNodeList) } },
    async (request) => {
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
      const start = request.query.after
        ? Number(Buffer.from(request.query.after, 'base64url').toString())
        : 0;
      if (!Number.isInteger(start) || start < 0) throw invalidParam('Param after is not a valid cursor.');
      const page = all.slice(start, start + limit);
      const cursor = (n: number) => Buffer.from(String(n)).toString('base64url');
      return {
        // §7.1: `fields=name,category,status` narrows each listed template.
        data: page.map((t) => selectFields(templateView(t), request.query.fields)),
        ...(page.length > 0
          ? { paging: { cursors: { before: cursor(start), after: cursor(start + page.length) } } }
          : {}),
      };
    },
  );

  app.post(
    '/:wabaId/message_templates',
    { schema: { params: WabaParams, response: graphAnswers(CreateTemplateAnswer) } },
    async (request) => {
      const waba = requireWaba(sandbox, request, request.params.wabaId);
      countManagementCall(sandbox, request, waba);
      const template = createTemplate(world, waba.id, request.body, sandbox.now());
      scheduleReview(sandbox, template);
      const response: CreateTemplateResponse = {
        id: template.id,
        status: template.status,
        category: template.category,
      };
      return response;
    },
  );

  // §7.1: manual unpause of a template paused for quality (§7.4) → APPROVED with an UNPAUSE webhook.
  app.post(
    '/:id/unpause',
    { schema: { params: IdParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const template = visibleTemplate(request.params.id, request);
      if (!template) throw unknownObject(request.method, request.params.id);
      if (template.status !== 'PAUSED')
        throw invalidParam(`Only a paused template can be unpaused; this one is ${template.status}.`);
      template.status = 'APPROVED';
      sandbox.emitWaba(template.wabaId, 'message_template_status_update', {
        ...statusUpdate(template, null),
        other_info: { title: 'UNPAUSE', description: 'The template was unpaused and can be sent again.' },
      });
      return { success: true };
    },
  );

  function visibleTemplate(id: string, request: FastifyRequest) {
    return templateFor(sandbox, request, id);
  }

  // §7.1: `?name=` deletes every language of that name; `&hsm_id=` only that one.
  app.delete(
    '/:wabaId/message_templates',
    { schema: { params: WabaParams, querystring: TemplateQuery, response: graphAnswers(GraphSuccess) } },
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
