/** JUnit XML of a conformance run (junit-report-builder): one testsuite per area, one testcase per scenario. */
import junitModule, { type Builder } from 'junit-report-builder';
import type { RunResult } from './result.ts';

// The package's CommonJS export is the builder itself; its typings describe an ESM default.
const junit = junitModule as unknown as Builder;

export function writeJUnit(result: RunResult, path: string): void {
  const builder = junit.newBuilder();
  for (const area of [...new Set(result.scenarios.map((s) => s.area))]) {
    const suite = builder.testSuite().name(`v6pod ${area}`);
    for (const s of result.scenarios.filter((x) => x.area === area)) {
      const tc = suite
        .testCase()
        .className(`v6pod.${area}`)
        .name(`${s.id} ${s.title}`)
        .time(s.durationMs / 1000);
      if (s.verdict === 'fail') tc.failure(s.failure?.message ?? 'failed');
      if (s.verdict === 'skip') tc.skipped();
    }
  }
  builder.writeTo(path);
}
