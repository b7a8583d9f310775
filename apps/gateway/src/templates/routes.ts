import {
  ApiCreateTemplateRequest,
  ApiTemplateList,
  AppError,
  DeleteTemplateQuery,
  ErrorResponse,
  NoContent,
  Template,
  TemplateListQuery,
  TemplateSyncResult,
} from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import { principalOf } from '../plugins/auth';
import type { StoredComponent } from './definition';
import { type TemplateDoc, type TemplateStore, templateDoc, templateIdOf } from './store';
import { type MetaClient, metaFailure, type TemplateSync } from './sync';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

const view = (t: TemplateDoc): Template => ({
  name: t.name,
  language: t.language,
  category: t.metaCategory,
  status: t.status,
  quality: t.quality,
  reason: t.reason,
  metaId: t.metaId,
  wabaId: t.wabaId,
  parameterFormat: t.parameterFormat,
  parameters: { body: t.expectations.body, header: t.expectations.header?.kind ?? null },
  components: JSON.parse(t.componentsJson) as Record<string, unknown>[],
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});

/** `/api/v1/templates`: create, list, get (by name and language), delete (by name) and sync. */
export function registerTemplateRoutes(
  app: ServiceApp,
  deps: { store: TemplateStore; sync: TemplateSync; meta: MetaClient; now(): Date },
): void {
  const { store } = deps;

  app.post(
    '/api/v1/templates',
    {
      config: { permission: 'templates:write' },
      schema: {
        tags: ['templates'],
        description: "Creates the template in Meta (it starts PENDING review) and stores Meta's answer.",
        body: ApiCreateTemplateRequest,
        response: { 201: Template, ...errors },
      },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const body = request.body;
      const id = templateIdOf(ws, body.name, body.language);
      if (await store.repo.findOne(ws, { _id: id })) throw new AppError('TEMPLATE_EXISTS');
      const waba = await deps.sync.access(ws, body.wabaId);
      const components = body.components as StoredComponent[];
      const created = await deps.meta
        .createTemplate(waba.token, waba.wabaId, {
          name: body.name,
          language: body.language,
          category: body.category,
          components: body.components,
          ...(body.parameterFormat ? { parameter_format: body.parameterFormat } : {}),
          ...(body.messageSendTtlSeconds !== undefined
            ? { message_send_ttl_seconds: body.messageSendTtlSeconds }
            : {}),
        })
        .catch((error: unknown) => {
          throw metaFailure(error, 'create the template');
        });
      const doc = templateDoc(
        ws,
        waba.wabaId,
        {
          id: created.id,
          name: body.name,
          language: body.language,
          category: created.category || body.category,
          status: created.status,
          parameter_format: body.parameterFormat,
          components,
        },
        deps.now(),
      );
      // PENDING at creation is what every review outcome follows: any status webhook about
      // this template is newer, however Meta's clock and ours compare.
      doc.statusAt = new Date(0);
      await store.upsert(ws, [doc]);
      return reply.code(201).send(view(doc));
    },
  );

  app.get(
    '/api/v1/templates',
    {
      config: { permission: 'templates:read' },
      schema: {
        tags: ['templates'],
        description: 'The stored templates, filtered by name, language and status.',
        querystring: TemplateListQuery,
        response: { 200: ApiTemplateList, ...errors },
      },
    },
    async (request) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const { name, language, status } = request.query;
      const docs =
        name && language
          ? await store.repo.find(ws, { _id: templateIdOf(ws, name, language) })
          : await store.repo.find(
              ws,
              { ...(name ? { name } : {}), ...(language ? { language } : {}), ...(status ? { status } : {}) },
              { sort: { name: 1, language: 1 }, limit: 1_000 },
            );
      return { templates: docs.filter((t) => !status || t.status === status).map(view) };
    },
  );

  app.delete(
    '/api/v1/templates',
    {
      config: { permission: 'templates:delete' },
      schema: {
        tags: ['templates'],
        description:
          'Deletes a template in Meta and here: every language of `name`, or only `language`. Meta refuses to delete a DISABLED one.',
        querystring: DeleteTemplateQuery,
        response: { 204: NoContent, ...errors },
      },
    },
    async (request, reply) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const { name, language } = request.query;
      const targets = await store.repo.find(
        ws,
        language ? { _id: templateIdOf(ws, name, language) } : { name },
      );
      if (targets.length === 0) throw new AppError('NOT_FOUND');
      for (const wabaId of new Set(targets.map((t) => t.wabaId))) {
        const waba = await deps.sync.access(ws, wabaId);
        const one = language ? targets.find((t) => t.wabaId === wabaId) : undefined;
        await deps.meta
          .deleteTemplate(waba.token, waba.wabaId, name, one?.metaId ?? undefined)
          .catch((error: unknown) => {
            throw metaFailure(error, 'delete the template');
          });
      }
      await store.remove(ws, targets);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/templates/sync',
    {
      config: { permission: 'templates:write' },
      schema: {
        tags: ['templates'],
        description:
          "Makes the stored templates equal Meta's list for every WABA of the workspace (also run periodically).",
        response: {
          200: TemplateSyncResult,
          ...errors,
        },
      },
    },
    async (request) => deps.sync.syncWorkspace(asWorkspaceId(principalOf(request).workspaceId)),
  );
}
