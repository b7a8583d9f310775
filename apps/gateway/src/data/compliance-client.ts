import { Readable } from 'node:stream';
import { AppError, ERRORS, type ErrorCode } from '@wapi/contracts';
import type { InternalAuth } from '@wapi/service-kit';

/**
 * compliance's internal audit API, called with gateway's service token. compliance owns the
 * audit log; gateway only forwards the caller's workspace (never one from the request).
 */
export function complianceClient(options: { baseUrl: string; timeoutMs: number; auth: InternalAuth }) {
  async function call(method: 'GET' | 'POST', path: string): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${options.baseUrl}/internal/v1${path}`, {
        method,
        headers: { authorization: options.auth.headerFor('compliance') },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch {
      throw new AppError('DEPENDENCY_UNAVAILABLE', 'The audit log (compliance) is unreachable; retry later.');
    }
    if (response.ok) return response;
    // compliance's 4xx in the catalogue (a bad filter) is the caller's to fix; anything else is ours.
    const body = (await response.json().catch(() => undefined)) as { error?: { code?: string } } | undefined;
    const code = body?.error?.code;
    if (response.status < 500 && code !== undefined && code in ERRORS && !code.startsWith('INTERNAL_AUTH')) {
      throw new AppError(code as ErrorCode);
    }
    throw new AppError('DEPENDENCY_UNAVAILABLE', 'The audit log (compliance) failed to answer; retry later.');
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
    /** The CSV export as a stream (compliance streams it; so does gateway). */
    async exportCsv(ws: string): Promise<Readable> {
      const response = await call('GET', `${base(ws)}/export.csv`);
      if (!response.body) throw new AppError('DEPENDENCY_UNAVAILABLE');
      return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    },
  };
}
export type ComplianceClient = ReturnType<typeof complianceClient>;
