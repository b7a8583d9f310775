import { randomUUID } from 'node:crypto';
import type { AuditV1 } from '@wapi/contracts';
import { createProducer, jobIdOf, type ServiceApp } from '@wapi/service-kit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Every mutating call under `/api/v1` becomes an `audit.v1` event (consumed by compliance):
 * who (user or API key), what (method and route), on which target, with request id, IP,
 * user agent and outcome. Bodies are never copied into it (they may hold passwords or keys).
 */
export function registerAudit(
  app: ServiceApp,
  options: { connection: Redis; prefix: string; timeoutMs: number; log: Logger },
): void {
  // Created on the first event, so building the app opens no queue.
  let producer: ReturnType<typeof createProducer<'audit.v1'>> | undefined;
  app.addHook('onClose', async () => {
    await producer?.close();
  });
  app.addHook('onResponse', async (request, reply) => {
    const url = request.routeOptions.url;
    if (!url?.startsWith('/api/v1') || request.method === 'GET' || request.method === 'OPTIONS') return;
    const principal = request.principal;
    // Unauthenticated failures (bad credentials, throttled logins) have no workspace to file under.
    if (!principal) return;
    // A refused-by-limit call changed nothing; auditing each would let one client flood the log.
    if (reply.statusCode === 429) return;
    const params = (request.params ?? {}) as Record<string, string>;
    const [targetType, targetId] = params.userId
      ? ['member', params.userId]
      : params.keyId
        ? ['api_key', params.keyId]
        : params.contactId
          ? ['contact', params.contactId]
          : params.messageId
            ? ['message', params.messageId]
            : params.phoneNumberId
              ? ['phone_number', params.phoneNumberId]
              : ['workspace', principal.workspaceId];
    const status = reply.statusCode;
    const event: AuditV1 = {
      workspaceId: principal.workspaceId,
      actor: { type: principal.type, id: principal.id },
      action: `${request.method} ${url}`,
      target: { type: targetType, id: targetId },
      at: new Date().toISOString(),
      requestId: request.id,
      ip: request.clientIp.slice(0, 64),
      ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'].slice(0, 512) } : {}),
      outcome: status < 400 ? 'success' : status === 403 ? 'denied' : 'failure',
    };
    producer ??= createProducer('audit.v1', options);
    await producer.add(event, { jobId: jobIdOf('gateway', randomUUID()) }).catch((error: unknown) => {
      request.log.error({ err: error }, 'audit event not queued');
    });
  });
}
