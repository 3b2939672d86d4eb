/**
 * The self-contained HTML report of a conformance run (artifacts/<run>/report.html): no external
 * files — styles inline, the topology SVG embedded — so it can be attached to a CI run or mailed.
 */
import { relayText, type RunResult, type ScenarioResult } from './result.ts';

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1.fail{color:#b00020}h1.pass{color:#1b5e20}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
tr.fail td{background:#fdecea}tr.skip td{color:#777}td.v{font-weight:600;white-space:nowrap}
table.matrix{font-size:12px}table.matrix td{white-space:nowrap}table.matrix td.fail{background:#fdecea;font-weight:600}
table.matrix td.pass{background:#eef7ee}table.matrix td.na,table.matrix td.skip{color:#999}
pre{background:#f7f7f7;border:1px solid #e4e4e4;padding:8px;overflow:auto;font-size:12px}
.topo svg{max-width:100%;height:auto}code{background:#f4f4f4;padding:0 3px}`;

function row(s: ScenarioResult): string {
  const anchor = s.verdict === 'fail' ? `<a href="#${esc(s.id)}">${esc(s.id)}</a>` : esc(s.id);
  return `<tr class="${s.verdict}"><td>${anchor}</td><td>${esc(s.title)}</td><td class="v">${s.verdict}</td><td>${esc(s.reference)}</td><td>${s.durationMs}</td></tr>`;
}

function failure(s: ScenarioResult): string {
  const parts = [
    `<h3 id="${esc(s.id)}">${esc(s.id)} ${esc(s.title)}</h3>`,
    `<p>Proves: ${esc(s.proves)}<br>Reference: ${esc(s.reference)}</p>`,
    `<pre>${esc(s.failure?.message ?? '')}</pre>`,
  ];
  if (s.failure?.expected !== undefined)
    parts.push(`<p>Expected: <code>${esc(s.failure.expected)}</code><br>Seen: <code>${esc(s.failure.actual ?? '')}</code></p>`);
  for (const [pcap, ladder] of Object.entries(s.ladders ?? {}))
    parts.push(`<p>Packet ladder from <code>${esc(pcap)}</code>:</p><pre>${esc(ladder.join('\n'))}</pre>`);
  return parts.join('\n');
}

/**
 * A matrix's cells as one table, rows × columns: each cell says what the policy expects (pass or
 * drop) and whether the run saw it; a failing cell links to its failure (its ladder and pcaps).
 */
export function matrixTable(cells: readonly ScenarioResult[]): string {
  const rows = [...new Set(cells.map((c) => c.matrix!.row))];
  const columns = [...new Set(cells.map((c) => c.matrix!.column))];
  const at = new Map(cells.map((c) => [`${c.matrix!.row}.${c.matrix!.column}`, c]));
  const td = (c: ScenarioResult | undefined) => {
    if (!c) return '<td class="na">n.a.</td>';
    const text = `${c.verdict === 'fail' ? '✘' : c.verdict === 'pass' ? '✔' : '–'} ${esc(c.matrix!.expect)}`;
    const title = `${c.id}: ${c.unsupported ? `unsupported: ${c.unsupported}` : c.proves}`;
    return `<td class="${c.verdict}" title="${esc(title)}">${c.verdict === 'fail' ? `<a href="#${esc(c.id)}">${text}</a>` : text}</td>`;
  };
  const head = `<tr><th>row \\ column</th>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  return `<table class="matrix">${head}${rows.map((rw) => `<tr><th>${esc(rw)}</th>${columns.map((c) => td(at.get(`${rw}.${c}`))).join('')}</tr>`).join('')}</table>`;
}

export function htmlReport(r: RunResult, topologySvg?: string): string {
  const ok = r.totals.failed === 0;
  const areas = [...new Set(r.scenarios.map((s) => s.area))];
  const tables = areas.map((a) => {
    const mine = r.scenarios.filter((s) => s.area === a);
    if (mine.every((s) => s.matrix))
      return `<h2>${esc(a)}</h2><p>Each cell: what the policy expects (pass or drop) and whether the run saw it (✔ yes, ✘ no, – skipped); hover for the rule.</p>${matrixTable(mine)}`;
    return `<h2>${esc(a)}</h2><table><tr><th>ID</th><th>Scenario</th><th>Verdict</th><th>Reference</th><th>ms</th></tr>${mine.map(row).join('')}</table>`;
  });
  const failures = r.scenarios.filter((s) => s.verdict === 'fail');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>v6pod ${esc(r.run)}: ${ok ? 'passed' : 'FAILED'}</title><style>${STYLE}</style></head><body>
<h1 class="${ok ? 'pass' : 'fail'}">v6pod conformance: ${ok ? 'passed' : 'FAILED'}</h1>
<p>Run <code>${esc(r.run)}</code>${r.shard ? ` (shard ${r.shard.index}/${r.shard.count})` : ''}, pod <code>${esc(r.podFile)}</code>${esc(relayText(r))}, started ${esc(r.startedAt)}.<br>
<strong>${r.totals.passed} passed, ${r.totals.failed} failed, ${r.totals.skipped} skipped</strong> in ${r.figures.wallSeconds} s wall (pod up ${r.figures.upSeconds} s, scenarios ${r.figures.scenariosSeconds} s, down ${r.figures.downSeconds} s).</p>
${tables.join('\n')}
${failures.length ? `<h2>Failures</h2>\n${failures.map(failure).join('\n')}` : ''}
${topologySvg ? `<h2>Topology</h2><div class="topo">${topologySvg.replace(/^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?/, '')}</div>` : ''}
</body></html>
`;
}
