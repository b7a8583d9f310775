import { Type } from '@sinclair/typebox';
import { AuditQuery, AuditQueryResponse, AuditVerifyResponse, ErrorResponse } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { ComplianceClient } from '../data/compliance-client';
import { principalOf } from '../plugins/auth';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

/** The workspace's audit log, served by compliance: filtered pages, CSV export, chain verification. */
export function registerAuditLogRoutes(app: ServiceApp, deps: { compliance: ComplianceClient }): void {
  app.get(
    '/api/v1/audit-logs',
    {
      config: { permission: 'audit:read' },
      schema: { tags: ['audit'], querystring: AuditQuery, response: { 200: AuditQueryResponse, ...errors } },
    },
    async (request) =>
      (await deps.compliance.entries(principalOf(request).workspaceId, request.query)) as AuditQueryResponse,
  );

  app.get(
    '/api/v1/audit-logs/export.csv',
    {
      config: { permission: 'audit:export' },
      schema: {
        tags: ['audit'],
        response: {
          200: Type.String({ description: 'text/csv, one row per entry, oldest first' }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const ws = principalOf(request).workspaceId;
      const csv = await deps.compliance.exportCsv(ws);
      return reply
        .header('content-type', 'text/csv; charset=utf-8; header=present')
        .header('content-disposition', `attachment; filename="audit-${ws}.csv"`)
        .send(csv as unknown as string);
    },
  );

  app.post(
    '/api/v1/audit-logs/verify',
    {
      config: { permission: 'audit:read' },
      schema: { tags: ['audit'], response: { 200: AuditVerifyResponse, ...errors } },
    },
    async (request) =>
      (await deps.compliance.verify(principalOf(request).workspaceId)) as AuditVerifyResponse,
  );
}
