import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import {
  AuditQuery,
  AuditQueryResponse,
  AuditRetentionRequest,
  AuditVerifyResponse,
  ErrorResponse,
  OkResponse,
  WorkspaceParams,
} from '@wapi/contracts';
import { registerInternal, type ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId, type WorkspaceId } from '@wapi/store';
import type { AuditEntryDoc, AuditLog } from '../data/audit-log';
import { csvRow } from '../domain/csv';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 500: ErrorResponse, 503: ErrorResponse };

const CSV_HEADER = [
  'seq',
  'at',
  'actor_type',
  'actor_id',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'request_id',
  'ip',
  'user_agent',
  'before',
  'after',
  'data',
  'prev_hash',
  'hash',
];

const json = (value: object | undefined) => (value === undefined ? undefined : JSON.stringify(value));

function csvOf(doc: AuditEntryDoc): string {
  return csvRow([
    doc.seq,
    doc.at.toISOString(),
    doc.actor.type,
    doc.actor.id,
    doc.action,
    doc.target.type,
    doc.target.id,
    doc.outcome,
    doc.requestId,
    doc.ip,
    doc.userAgent,
    json(doc.before),
    json(doc.after),
    json(doc.data),
    doc.prevHash,
    doc.hash,
  ]);
}

/** The export as a stream of CSV chunks: pages of entries, one chunk per 100 rows. */
async function* exportCsv(audit: AuditLog, ws: WorkspaceId): AsyncGenerator<string> {
  yield csvRow(CSV_HEADER);
  const anchor = await audit.anchorOf(ws);
  let chunk = '';
  let rows = 0;
  for await (const doc of audit.scan(ws, anchor.firstSeq)) {
    chunk += csvOf(doc);
    rows += 1;
    if (rows % 100 === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** The audit log over internal HTTP: query, CSV export, verify, retention. */
export function registerAuditRoutes(service: ServiceApp, audit: AuditLog): void {
  registerInternal(
    service,
    async (app) => {
      app.get(
        '/v1/audit/:workspaceId/entries',
        {
          schema: {
            params: WorkspaceParams,
            querystring: AuditQuery,
            response: { 200: AuditQueryResponse, ...errors },
          },
        },
        async (request) => audit.query(asWorkspaceId(request.params.workspaceId), request.query),
      );

      app.get(
        '/v1/audit/:workspaceId/export.csv',
        { schema: { params: WorkspaceParams, response: { 200: Type.String(), ...errors } } },
        async (request, reply) => {
          const ws = asWorkspaceId(request.params.workspaceId);
          // Streamed with backpressure: a page of entries is read only when the client has
          // taken the previous rows, so memory stays flat however long the chain is.
          return (
            reply
              .header('content-type', 'text/csv; charset=utf-8; header=present')
              .header('content-disposition', `attachment; filename="audit-${ws}.csv"`)
              // The declared 200 schema is a string (the CSV text); Fastify streams a Readable as is.
              .send(Readable.from(exportCsv(audit, ws)) as unknown as string)
          );
        },
      );

      app.post(
        '/v1/audit/:workspaceId/verify',
        { schema: { params: WorkspaceParams, response: { 200: AuditVerifyResponse, ...errors } } },
        async (request) => audit.verify(asWorkspaceId(request.params.workspaceId)),
      );

      app.put(
        '/v1/audit/:workspaceId/retention',
        {
          schema: {
            params: WorkspaceParams,
            body: AuditRetentionRequest,
            response: { 200: OkResponse, ...errors },
          },
        },
        async (request) => {
          await audit.setRetention(asWorkspaceId(request.params.workspaceId), request.body.days);
          return { ok: true as const };
        },
      );
    },
    { auth: service.internalAuth! },
  );
}
