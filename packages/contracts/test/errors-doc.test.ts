import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError, ERRORS, type ErrorCode } from '../src/index';

const docPath = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));

function documentedCodes(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of readFileSync(docPath, 'utf8').split('\n')) {
    const match = /^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (match) rows.set(match[1]!, Number(match[2]));
  }
  return rows;
}

describe('error catalogue', () => {
  it('documents every code in docs/errors.md with its HTTP status, and nothing else', () => {
    const documented = documentedCodes();
    const catalogued = new Map(Object.entries(ERRORS).map(([code, { status }]) => [code, status]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(catalogued));
  });

  it('uses SCREAMING_SNAKE codes and 4xx/5xx statuses', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
  });

  it('gives an AppError the catalogue status and default message', () => {
    const code: ErrorCode = 'CONTACT_OPTED_OUT';
    const err = new AppError(code);
    expect(err.status).toBe(403);
    expect(err.message).toBe(ERRORS.CONTACT_OPTED_OUT.message);
    expect(new AppError('VALIDATION_FAILED', 'body/to is required').message).toBe('body/to is required');
  });
});
