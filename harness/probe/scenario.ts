/**
 * A conformance scenario: a mocha test with a stable ID, a reference (seed section or RFC
 * section) and a sentence saying what it proves. The metadata is kept for the report and for
 * docs/conformance.md.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setCurrentScenario } from './pod-context.ts';
import { runnableFile } from '../os/runnable.ts';

const SCENARIO_DIR = new URL('../../scenarios/', import.meta.url).pathname;

export type Catalogue = 'conformance' | 'scale' | 'guests';

/**
 * The scenario files of a catalogue: the conformance catalogue (scenarios/*.scenario.ts, for any
 * pod shaped like the seed's), the scale checks (scenarios/scale/, every instance of any pod), or
 * the guest matrix (scenarios/guests/, for fixtures/pods/guests.yaml). Each path is the file to load:
 * the .ts source, or its compiled .js when this code runs compiled.
 */
export function scenarioFiles(catalogue: Catalogue): string[] {
  const dir = catalogue === 'conformance' ? SCENARIO_DIR : join(SCENARIO_DIR, catalogue);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.scenario.ts'))
    .sort()
    .map((f) => runnableFile(join(dir, f)));
}

export interface ScenarioMeta {
  id: string;
  title: string;
  /** Where the requirement comes from: "RFC 4862 §5.5.3", "seed: Instances use SLAAC". */
  reference: string;
  /** What a pass proves, in one sentence. */
  proves: string;
  /** Only in the full profile (slow: real timers, daemon restarts). */
  slow?: boolean;
  /** Not in the quick profile's sample (one cell of a matrix whose sample covers every row and column). */
  notInQuickSample?: boolean;
  /** A cell of a matrix (the security-group threat matrix, the guest matrix): reports draw these as a table. */
  matrix?: { row: string; column: string; expect: string };
  /** What the subject cannot do, and why: the scenario is reported unsupported (skipped with this reason), never as a pass. */
  unsupported?: string;
}

const registry: ScenarioMeta[] = [];
/** Evidence files a scenario shares with others (one capture window proves many matrix cells). */
const evidence = new Map<string, string[]>();

/** Records pcaps (paths in the run's artifacts) as evidence of scenario `id`, besides those named after it. */
export function attachEvidence(id: string, files: readonly string[]): void {
  evidence.set(id, [...new Set([...(evidence.get(id) ?? []), ...files])]);
}

export function evidenceOf(id: string): readonly string[] {
  return evidence.get(id) ?? [];
}

export function scenarioRegistry(): readonly ScenarioMeta[] {
  return registry;
}

/** The metadata of the scenario whose mocha title is `title` ("ID title"). */
export function scenarioOf(title: string): ScenarioMeta | undefined {
  return registry.find((m) => title === `${m.id} ${m.title}`);
}

/** Declares a scenario: `ID title` is its mocha title, so `--grep SLAAC-001` selects it. */
export function scenario(meta: ScenarioMeta, body: () => Promise<void> | void): void {
  registry.push(meta);
  // Pending in mocha: the run records it as skipped, with the reason in its metadata.
  if (meta.unsupported !== undefined) return void it(`${meta.id} ${meta.title}`);
  it(`${meta.id} ${meta.title}`, async () => {
    setCurrentScenario(meta.id);
    try {
      await body();
    } finally {
      setCurrentScenario(undefined);
    }
  });
}
