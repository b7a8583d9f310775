import type { CreateTemplateResponse } from '@wapi/contracts';
import { CreateTemplateResponse as CreateTemplateAnswer, GraphSuccess } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { FastifyRequest } from 'fastify';
import { unknownObject } from '../domain/graph-error';
import type { Clock, WebhookSink } from '../domain/ports';
import {
  createTemplate,
  deleteTemplates,
  listTemplates,
  type TemplateReview,
  unpauseTemplate,
} from '../domain/templates';
import type { Template, World } from '../domain/world';
import { canAccessWaba, countManagementCall, type GraphAccess, requireWaba, tokenOf } from './graph-auth';
import { GraphNodeList, graphAnswers, IdParams, TemplateQuery, WabaParams } from './graph-schemas';

/** A template the request's token can see; others answer like unknown ids (Graph's way). */
export function templateFor(access: GraphAccess, request: FastifyRequest, id: string): Template | undefined {
  const template = access.world.templates.get(id);
  return template && canAccessWaba(tokenOf(request), template.wabaId) ? template : undefined;
}

/** What the template routes use. */
export interface TemplateRouteDeps {
  world: World;
  clock: Clock;
  webhooks: WebhookSink;
  review: TemplateReview;
}

/** `GET/POST/DELETE /{waba-id}/message_templates` (§7.1). */
export function registerTemplateRoutes(app: ServiceApp, deps: TemplateRouteDeps): void {
  const { world } = deps;

  app.get(
    '/:wabaId/message_templates',
    { schema: { params: WabaParams, querystring: TemplateQuery, response: graphAnswers(GraphNodeList) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
      return listTemplates(world, waba.id, request.query);
    },
  );

  app.post(
    '/:wabaId/message_templates',
    { schema: { params: WabaParams, response: graphAnswers(CreateTemplateAnswer) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
      const template = createTemplate(world, waba.id, request.body, deps.clock.now());
      deps.review.schedule(template);
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
      const template = templateFor(deps, request, request.params.id);
      if (!template) throw unknownObject(request.method, request.params.id);
      unpauseTemplate(deps, template);
      return { success: true };
    },
  );

  // §7.1: `?name=` deletes every language of that name; `&hsm_id=` only that one.
  app.delete(
    '/:wabaId/message_templates',
    { schema: { params: WabaParams, querystring: TemplateQuery, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const waba = requireWaba(deps, request, request.params.wabaId);
      countManagementCall(deps, request, waba);
      deleteTemplates(world, waba.id, request.query.name, request.query.hsm_id);
      return { success: true };
    },
  );
}
