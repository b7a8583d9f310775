import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { AppError, ErrorResponse } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import { principalOf } from '../plugins/auth';
import { newContact } from './contact-routes';
import { normalisePhone } from './phone';
import { type MessagingRepositories, withoutWorkspace } from './repositories';

const MAX_ROWS = 100_000;
const MAX_REPORTED_ERRORS = 1_000;
const BATCH = 500;

/**
 * RFC 4180 records from a byte stream, one at a time (quoted fields, doubled quotes, CRLF or
 * LF), without holding the file in memory.
 */
export async function* csvRecords(input: AsyncIterable<Buffer | string>): AsyncGenerator<string[]> {
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let afterQuote = false;
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 1;
          } else {
            quoted = false;
            afterQuote = true;
          }
        } else field += c;
      } else if (c === '"' && field === '' && !afterQuote) quoted = true;
      else if (c === ',') {
        record.push(field);
        field = '';
        afterQuote = false;
      } else if (c === '\n') {
        record.push(field.endsWith('\r') ? field.slice(0, -1) : field);
        yield record;
        record = [];
        field = '';
        afterQuote = false;
      } else field += c;
    }
  }
  if (field !== '' || record.length > 0) {
    record.push(field.endsWith('\r') ? field.slice(0, -1) : field);
    yield record;
  }
}

const ImportResult = Type.Object(
  {
    rows: Type.Integer({ description: 'data rows read (the header excluded)' }),
    imported: Type.Integer(),
    duplicates: Type.Integer({
      description: 'rows whose number is already a contact (a re-import adds nothing)',
    }),
    errors: Type.Array(
      Type.Object(
        { row: Type.Integer(), code: Type.String(), message: Type.String() },
        { additionalProperties: false },
      ),
      { description: `the first ${MAX_REPORTED_ERRORS} refused rows (row 1 is the header)` },
    ),
  },
  { additionalProperties: false },
);

/**
 * `POST /api/v1/contacts/import` with a `text/csv` body: a header row naming `phone` (and
 * optionally `name`, `tags` separated by `;`), streamed and written in batches of 500.
 * Contact ids derive from the number, so importing the same file twice adds nothing.
 */
export function registerContactImport(
  app: ServiceApp,
  deps: { repos: MessagingRepositories; now(): Date },
): void {
  // The body stays a stream: the import reads it row by row.
  app.addContentTypeParser('text/csv', (_request, payload, done) => done(null, payload));

  app.post(
    '/api/v1/contacts/import',
    {
      config: { permission: 'contacts:import' },
      schema: {
        tags: ['contacts'],
        description: 'text/csv with a header row: phone (required), name, tags (separated by ;)',
        response: { 200: ImportResult, '4xx': ErrorResponse, '5xx': ErrorResponse },
      },
    },
    async (request) => {
      const ws = asWorkspaceId(principalOf(request).workspaceId);
      const body = request.body as Readable | undefined;
      if (
        !body ||
        typeof (body as Readable).on !== 'function' ||
        !request.headers['content-type']?.startsWith('text/csv')
      ) {
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Send the contacts as Content-Type: text/csv with a header row naming phone.',
        );
      }
      const result = {
        rows: 0,
        imported: 0,
        duplicates: 0,
        errors: [] as { row: number; code: string; message: string }[],
      };
      const refuse = (row: number, code: string, message: string) => {
        if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push({ row, code, message });
      };
      let header: string[] | undefined;
      let batch: ReturnType<typeof newContact>[] = [];
      const seen = new Set<string>();
      const flush = async () => {
        if (batch.length === 0) return;
        const { inserted, duplicates } = await deps.repos.contacts.insertMany(
          ws,
          batch.map(withoutWorkspace),
          {
            ignoreDuplicates: true,
          },
        );
        result.imported += inserted;
        result.duplicates += duplicates;
        batch = [];
      };
      let row = 0;
      for await (const record of csvRecords(body)) {
        row += 1;
        if (!header) {
          header = record.map((h) => h.trim().toLowerCase());
          if (!header.includes('phone')) {
            throw new AppError(
              'VALIDATION_FAILED',
              'The first row must name the columns and include phone (e.g. phone,name,tags).',
            );
          }
          continue;
        }
        if (record.length === 1 && record[0]?.trim() === '') continue;
        result.rows += 1;
        if (result.rows > MAX_ROWS)
          throw new AppError('PAYLOAD_TOO_LARGE', `Import at most ${MAX_ROWS} rows per file; split it.`);
        const cell = (name: string) => {
          const i = header!.indexOf(name);
          return i < 0 ? undefined : record[i]?.trim() || undefined;
        };
        try {
          const phone = normalisePhone(cell('phone') ?? '');
          const name = cell('name')?.slice(0, 256);
          const tags = cell('tags')
            ?.split(';')
            .map((t) => t.trim().slice(0, 64))
            .filter(Boolean)
            .slice(0, 50);
          const doc = newContact(ws, phone, deps.now(), { name, tags });
          // The same number twice in one file counts as a duplicate, as it would across files.
          if (seen.has(doc._id)) {
            result.duplicates += 1;
            continue;
          }
          seen.add(doc._id);
          batch.push(doc);
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          refuse(row, error.code, error.message);
          continue;
        }
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      return result;
    },
  );
}
