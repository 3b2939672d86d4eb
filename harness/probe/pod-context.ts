/**
 * The pod a scenario run works on. `v6pod test` brings the pod up, sets it here, then loads the
 * scenario files; scenarios reach it through `currentPod()` and keep their evidence (pcaps) under
 * `artifactPath()`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from '../pod/plan.ts';

/** What the run selected: its profile and `--grep`, so work shared by many scenarios is done only for those that run. */
export interface RunSelection {
  profile: 'quick' | 'full' | 'scale' | 'guests';
  grep?: RegExp;
}

let current: { plan: Plan; artifacts: string; selection: RunSelection } | undefined;

export function setCurrentPod(plan: Plan, artifacts: string, selection: RunSelection = { profile: 'full' }): void {
  mkdirSync(artifacts, { recursive: true });
  current = { plan, artifacts, selection };
}

export function runSelection(): RunSelection {
  return current?.selection ?? { profile: 'full' };
}

export function clearCurrentPod(): void {
  current = undefined;
}

export function currentPod(): Plan {
  if (!current) throw new Error('no pod is up for this scenario run (scenarios run under `v6pod test`)');
  return current.plan;
}

let scenarioId: string | undefined;

/** The scenario running now (its ID names the evidence it keeps). */
export function setCurrentScenario(id: string | undefined): void {
  scenarioId = id;
}

export function currentScenario(): string | undefined {
  return scenarioId;
}

/** A file path in this run's artifacts directory. */
export function artifactPath(name: string): string {
  if (!current) throw new Error('no scenario run is active');
  return join(current.artifacts, name);
}
