import type { AuditQueryResponse } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { useTestContext } from '@wapi/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditInput, createAuditLog } from '../src/data/audit-log';
import { csvField, csvRow } from '../src/domain/csv';
import { type ComplianceUnderTest, startCompliance } from './helpers';

const ctx = useTestContext('auditapi');
const log = pino({ level: 'silent' });
const ws = 'ws_api';
let compliance: ComplianceUnderTest;

function entry(i: number, over: Partial<AuditInput> = {}): AuditInput {
  return {
    workspaceId: ws,
    eventId: `e${i}`,
    actor: { type: i % 2 ? 'user' : 'api_key', id: i % 2 ? 'usr_1' : 'key_1' },
    action: i % 3 ? 'template.created' : 'number.registered',
    target: { type: 'template', id: `tpl_${i}` },
    at: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString(),
    ...over,
  };
}

beforeAll(async () => {
  compliance = await startCompliance(ctx);
  const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90 });
  for (let i = 1; i <= 30; i += 1) await audit.append(entry(i));
  await audit.append(
    entry(31, {
      actor: { type: 'user', id: '=HYPERLINK("http://evil","x")' },
      action: 'user.renamed',
      target: { type: 'user', id: '@SUM(1+1)' },
      userAgent: 'Mozilla/5.0 (X11; Linux, "quoted")\r\nsecond line',
      before: { name: '-2+3' },
      after: { name: '+cmd|calc' },
    }),
  );
});

afterAll(() => compliance?.close());

async function query(qs: string): Promise<AuditQueryResponse> {
  const res = await compliance.call('GET', `/internal/v1/audit/${ws}/entries${qs}`);
  expect(res.statusCode).toBe(200);
  return res.json() as AuditQueryResponse;
}

describe('audit query', () => {
  it('pages newest first with a cursor until the end', async () => {
    const seen: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: AuditQueryResponse = await query(`?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.entries.map((e) => e.seq));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(Array.from({ length: 31 }, (_, i) => 31 - i));
  });

  it('filters by action, actor, target and time range', async () => {
    expect((await query('?action=number.registered')).entries.map((e) => e.seq)).toEqual([
      30, 27, 24, 21, 18, 15, 12, 9, 6, 3,
    ]);
    expect((await query('?actorType=api_key&actorId=key_1&limit=500')).entries).toHaveLength(15);
    expect((await query('?targetType=template&targetId=tpl_4')).entries.map((e) => e.seq)).toEqual([4]);
    const range = await query(
      `?from=${encodeURIComponent('2026-11-01T00:10:00.000Z')}&to=${encodeURIComponent('2026-11-01T00:13:00.000Z')}`,
    );
    expect(range.entries.map((e) => e.seq)).toEqual([12, 11, 10]);
  });

  it('refuses a malformed filter with 400', async () => {
    const res = await compliance.call('GET', `/internal/v1/audit/${ws}/entries?limit=100000`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });
});

/** A minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 1;
    } else field += c;
  }
  return rows;
}

describe('CSV export', () => {
  it('streams every entry as RFC 4180 CSV with formulas neutralised', async () => {
    const res = await compliance.call('GET', `/internal/v1/audit/${ws}/export.csv`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.body.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(res.body);
    expect(rows[0]).toEqual([
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
    ]);
    expect(rows).toHaveLength(32);
    expect(rows.slice(1).map((r) => Number(r[0]))).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    const last = rows[31]!;
    expect(last[3]).toBe('\'=HYPERLINK("http://evil","x")');
    expect(last[6]).toBe("'@SUM(1+1)");
    expect(last[10]).toBe('Mozilla/5.0 (X11; Linux, "quoted")\r\nsecond line');
    // JSON cells start with '{', so they are safe as they are.
    expect(JSON.parse(last[11]!)).toEqual({ name: '-2+3' });
    expect(last[15]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('neutralises every formula prefix and quotes only what needs it', () => {
    for (const prefix of ['=', '+', '-', '@', '\t', '\r'])
      expect(csvField(`${prefix}1`).replace(/^"/, '')).toMatch(/^'/);
    expect(csvField('plain')).toBe('plain');
    expect(csvField(-5)).toBe('-5');
    expect(csvField(null)).toBe('');
    expect(csvRow(['a,b', 'say "hi"', 'x'])).toBe('"a,b","say ""hi""",x\r\n');
  });

  it('exports only what survives a purge, from the anchor', async () => {
    const other = asWorkspaceId('ws_purged_export');
    let clock = Date.UTC(2026, 0, 1);
    const audit = createAuditLog({ db: ctx.db, log, retentionDays: 90, now: () => new Date(clock) });
    for (let i = 0; i < 4; i += 1) await audit.append({ ...entry(100 + i), workspaceId: other });
    clock += 100 * 86_400_000;
    await audit.append({ ...entry(200), workspaceId: other });
    await audit.purge(other);
    const rows = parseCsv((await compliance.call('GET', `/internal/v1/audit/${other}/export.csv`)).body);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['5']);
  });
});
