import { Readable } from 'node:stream';
import {
  AppError,
  type ConsentChangeRequest,
  type ConsentChangeResponse,
  type ContactConsentResponse,
  ERRORS,
  type ErrorCode,
  type MessageCategory,
  type SuppressionCheckResponse,
} from '@wapi/contracts';
import type { InternalAuth } from '@wapi/service-kit';

/**
 * compliance's internal audit API, called with gateway's service token. compliance owns the
 * audit log; gateway only forwards the caller's workspace (never one from the request).
 */
export function complianceClient(options: { baseUrl: string; timeoutMs: number; auth: InternalAuth }) {
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${options.baseUrl}/internal/v1${path}`, {
        method,
        headers: {
          authorization: options.auth.headerFor('compliance'),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch {
      throw new AppError(
        'DEPENDENCY_UNAVAILABLE',
        'compliance (audit log, consent) is unreachable; retry later.',
      );
    }
    if (response.ok) return response;
    // compliance's 4xx in the catalogue (a bad filter) is the caller's to fix; anything else is ours.
    const answer = (await response.json().catch(() => undefined)) as
      | { error?: { code?: string } }
      | undefined;
    const code = answer?.error?.code;
    if (response.status < 500 && code !== undefined && code in ERRORS && !code.startsWith('INTERNAL_AUTH')) {
      throw new AppError(code as ErrorCode);
    }
    throw new AppError(
      'DEPENDENCY_UNAVAILABLE',
      'compliance (audit log, consent) failed to answer; retry later.',
    );
  }
  const base = (ws: string) => `/audit/${encodeURIComponent(ws)}`;
  return {
    async entries(ws: string, query: Record<string, string | number | undefined>): Promise<unknown> {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query))
        if (value !== undefined) params.set(name, String(value));
      const text = params.toString();
      return (await call('GET', `${base(ws)}/entries${text ? `?${text}` : ''}`)).json();
    },
    async verify(ws: string): Promise<unknown> {
      return (await call('POST', `${base(ws)}/verify`)).json();
    },
    /** A contact's consent per scope and its history. */
    async consent(ws: string, waId: string): Promise<ContactConsentResponse> {
      const path = `/consent/${encodeURIComponent(ws)}/${encodeURIComponent(waId)}`;
      return (await (await call('GET', path)).json()) as ContactConsentResponse;
    },
    /** Records a manual consent change (compliance updates the suppression list before answering). */
    async changeConsent(change: ConsentChangeRequest): Promise<ConsentChangeResponse> {
      return (await (await call('POST', '/consent/changes', change)).json()) as ConsentChangeResponse;
    },
    /** Whether each contact is suppressed for `category`, from compliance's ledger (Redis not ready). */
    async suppressed(ws: string, contacts: string[], category: MessageCategory): Promise<boolean[]> {
      const answer = (await (
        await call('POST', '/suppression/check', { workspaceId: ws, contacts, category })
      ).json()) as SuppressionCheckResponse;
      return answer.suppressed.map((s) => s.suppressed);
    },
    /** The CSV export as a stream (compliance streams it; so does gateway). */
    async exportCsv(ws: string): Promise<Readable> {
      const response = await call('GET', `${base(ws)}/export.csv`);
      if (!response.body) throw new AppError('DEPENDENCY_UNAVAILABLE');
      return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    },
  };
}
export type ComplianceClient = ReturnType<typeof complianceClient>;
