import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES, SERVICES } from '@wapi/contracts';
import { describe, expect, it } from 'vitest';
import { readCompose, requiredVariablesIn } from '../src/deploy-files';
import { repoRoot } from '../src/infra';

// No Docker engine runs here, so these check what can be checked without one: that the
// files parse and say what production needs. Each app's conformance suite checks that
// compose sets every variable that app requires.
describe('docker-compose.yml', () => {
  const { services } = readCompose();

  it('runs MongoDB 7 as a replica set and Redis 7 with AOF and noeviction', () => {
    expect(services.mongo?.image).toBe('mongo:7');
    expect(services.mongo?.command).toEqual(expect.arrayContaining(['--replSet', 'rs0']));
    expect(JSON.stringify(services.mongo?.healthcheck?.test)).toContain('rs.initiate');
    expect(services.redis?.image).toBe('redis:7');
    expect(services.redis?.command).toEqual(
      expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
    );
  });

  it('names all six services, each built from the Dockerfile for itself, waiting for healthy Redis', () => {
    for (const name of SERVICE_NAMES) {
      expect(services[name]?.build).toEqual({ context: '.', args: { SERVICE: name } });
      expect(services[name]?.depends_on?.redis?.condition).toBe('service_healthy');
    }
    expect(Object.keys(services).sort()).toEqual([...SERVICE_NAMES, 'mongo', 'redis'].sort());
  });

  it('gives every service its port from the service table and points them at the compose Redis and MongoDB', () => {
    for (const name of SERVICE_NAMES)
      expect(services[name]?.environment?.PORT).toBe(String(SERVICES[name].port));
    for (const name of SERVICE_NAMES) {
      expect(services[name]?.environment?.REDIS_URL).toBe('redis://redis:6379');
      if (name !== 'meta-sandbox')
        expect(services[name]?.environment?.MONGO_URL).toMatch(/^mongodb:\/\/mongo:27017\//);
    }
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(repoRoot(), 'Dockerfile'), 'utf8');
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line));

  it('is multi-stage, takes the service as a build argument, and runs as a non-root user', () => {
    const stages = instructions.filter((l) => l.startsWith('FROM '));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(instructions).toContain('ARG SERVICE');
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toBe('USER node');
    const lastFrom = instructions.findLastIndex((l) => l.startsWith('FROM '));
    expect(instructions.findIndex((l, i) => i > lastFrom && l.startsWith('USER '))).toBeGreaterThan(lastFrom);
  });

  it('checks health on /health/ready and starts the built server', () => {
    const health = instructions.find((l) => l.startsWith('HEALTHCHECK '));
    expect(health).toContain('/health/ready');
    expect(instructions.at(-1)).toBe('CMD ["node", "dist/server.js"]');
  });
});

describe('requiredVariablesIn', () => {
  it('reads the variable names from a ConfigError message', () => {
    const output =
      'svc: invalid configuration (2 problems):\n  - REDIS_URL is required but not set (x)\n  - PORT is malformed: y\n  - MONGO_URL is required but not set\n';
    expect(requiredVariablesIn(output)).toEqual(['MONGO_URL', 'REDIS_URL']);
  });
});
