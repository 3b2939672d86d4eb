/**
 * Writing a run's artifacts from its result: result.json, junit.xml, summary.md, report.html
 * (with the topology SVG embedded when one was drawn). Shared by `v6pod test` and `v6pod report merge`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from './result.ts';
import { writeJUnit } from './junit.ts';
import { markdownSummary } from './markdown.ts';
import { htmlReport } from './html.ts';

export function writeReports(dir: string, result: RunResult): { junit: string; html: string; markdown: string; json: string } {
  const paths = { json: join(dir, 'result.json'), junit: join(dir, 'junit.xml'), markdown: join(dir, 'summary.md'), html: join(dir, 'report.html') };
  writeFileSync(paths.json, `${JSON.stringify(result, null, 2)}\n`);
  writeJUnit(result, paths.junit);
  writeFileSync(paths.markdown, markdownSummary(result));
  const svg = join(dir, 'topology.svg');
  writeFileSync(paths.html, htmlReport(result, existsSync(svg) ? readFileSync(svg, 'utf8') : undefined));
  return paths;
}
