/** The Markdown summary of a conformance run (artifacts/<run>/summary.md): the table by area, then each failure. */
import { relayText, type RunResult } from './result.ts';

const MARK = { pass: '✅ pass', fail: '❌ fail', skip: '⏭ skip' } as const;
const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function markdownSummary(r: RunResult): string {
  const lines = [
    `# v6pod conformance: ${r.totals.failed ? 'FAILED' : 'PASSED'}`,
    '',
    `Run \`${r.run}\`${r.shard ? ` (shard ${r.shard.index}/${r.shard.count})` : ''}, pod \`${r.podFile}\`${relayText(r)}, started ${r.startedAt}.`,
    `**${r.totals.passed} passed, ${r.totals.failed} failed, ${r.totals.skipped} skipped** — ${r.figures.wallSeconds} s wall (pod up ${r.figures.upSeconds} s, scenarios ${r.figures.scenariosSeconds} s, down ${r.figures.downSeconds} s).`,
  ];
  const areas = [...new Set(r.scenarios.map((s) => s.area))];
  for (const area of areas) {
    lines.push('', `## ${area}`, '', '| ID | Scenario | Verdict | Reference | ms |', '|---|---|---|---|---:|');
    for (const s of r.scenarios.filter((x) => x.area === area))
      lines.push(`| ${s.id} | ${cell(s.title)} | ${MARK[s.verdict]} | ${cell(s.reference)} | ${s.durationMs} |`);
  }
  const failures = r.scenarios.filter((s) => s.verdict === 'fail');
  if (failures.length) lines.push('', '## Failures');
  for (const s of failures) {
    lines.push('', `### ${s.id} ${s.title}`, '', `Proves: ${s.proves}`, '', '```', s.failure?.message ?? '', '```');
    if (s.failure?.expected !== undefined) lines.push('', `Expected: \`${cell(s.failure.expected)}\`  `, `Seen: \`${cell(s.failure.actual ?? '')}\``);
    for (const [pcap, ladder] of Object.entries(s.ladders ?? {})) lines.push('', `Packet ladder (${pcap}):`, '', '```', ...ladder, '```');
  }
  return `${lines.join('\n')}\n`;
}
