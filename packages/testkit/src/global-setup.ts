import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import './provided';
import { ensureInfra } from './infra';

/** Vitest global set-up: infrastructure up (started when needed) before any test file runs. */
export default async function setup(project: TestProject): Promise<void> {
  project.provide('infra', await ensureInfra());
  project.provide('runId', randomUUID());
}
