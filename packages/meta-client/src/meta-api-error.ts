import type { GraphErrorBody } from '@wapi/contracts';
import { classifyMetaError, type ErrorClass } from './classify';

/**
 * A Graph call that Meta answered with its error envelope (reference §1.3), parsed, with
 * the classification of its `code` (reference §4, see `classify.ts`). Branch on `code` and
 * `details`, never on `message` (Meta's own advice, §1.3).
 */
export class MetaApiError extends Error {
  readonly httpStatus: number;
  readonly code: number;
  readonly subcode: number | undefined;
  readonly type: string;
  readonly details: string | undefined;
  readonly fbtraceId: string | undefined;
  readonly classification: ErrorClass;

  constructor(httpStatus: number, body: GraphErrorBody | undefined, fallback: string) {
    const error = body?.error;
    super(error?.message ?? fallback);
    this.name = 'MetaApiError';
    this.httpStatus = httpStatus;
    // A non-Graph failure (proxy page, 5xx without envelope) is classified as Meta's code 2
    // (service unavailable) when 5xx, else code 1 (unknown).
    this.code = error?.code ?? (httpStatus >= 500 ? 2 : 1);
    this.subcode = error?.error_subcode;
    this.type = error?.type ?? 'Unknown';
    this.details = error?.error_data?.details;
    this.fbtraceId = error?.fbtrace_id;
    this.classification = classifyMetaError(this.code, this.details);
  }
}
