/**
 * The security-group threat matrix in Markdown, from the policy itself (harness/sg/threat-matrix.ts):
 * its rows and columns for docs/conformance.md, and every cell's verdict with the rule and reference
 * that decide it for docs/sg-policy.md — so what a reader sees is what the matrix checks.
 */
import { COLUMNS, matrixCells, POLICY_VARIANTS, ROWS, type Direction, type MatrixCell } from '../sg/threat-matrix.ts';

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
const DIRECTIONS: Record<Direction, string> = { egress: 'From the instance (egress)', ingress: 'Towards the instance (ingress)' };

/** One direction's verdict table: rows × the columns that apply, `pass` / `drop` / `·` (n.a.). */
function verdictTable(cells: readonly MatrixCell[], direction: Direction): string[] {
  const mine = cells.filter((c) => c.row.direction === direction);
  const columns = COLUMNS.filter((c) => mine.some((x) => x.column.id === c.id));
  const at = new Map(mine.map((c) => [c.id, c]));
  return [
    `| row | ${columns.map((c) => c.id).join(' | ')} |`,
    `|---|${columns.map(() => '---').join('|')}|`,
    ...ROWS.filter((r) => r.direction === direction).map(
      (r) => `| ${r.id} | ${columns.map((c) => at.get(`SGM-${r.id}.${c.id}`)?.verdict ?? '·').join(' | ')} |`,
    ),
  ];
}

/** The matrix section of docs/conformance.md: rows, columns and each direction's verdicts. */
export function matrixCatalogue(): string[] {
  const cells = matrixCells();
  const lines = [
    `${cells.length} cells, IDs \`SGM-<row>.<column>\` (\`v6pod test --grep SGM-ra\` runs one row). Each cell is proved like every drop: a legitimate frame of the same kind crosses in the same window, the cell's frame is captured entering the port, and it is seen beyond the port exactly when the policy says pass. The rule behind every cell: docs/sg-policy.md.`,
    '',
    '| row | direction | packet kind | reference |',
    '|---|---|---|---|',
    ...ROWS.map((r) => `| ${r.id} | ${r.direction} | ${cell(r.title)} | ${cell(r.reference)} |`),
    '',
    '| column | direction | what is forged |',
    '|---|---|---|',
    ...COLUMNS.map((c) => `| ${c.id} | ${c.direction} | ${cell(c.title)} |`),
  ];
  for (const d of ['egress', 'ingress'] as const) lines.push('', `${DIRECTIONS[d]}:`, '', ...verdictTable(cells, d));
  return lines;
}

/** The generated part of docs/sg-policy.md: per direction, each rule with the cells it decides. */
export function policyDecisions(): string[] {
  const cells = matrixCells();
  const lines: string[] = [];
  for (const d of ['egress', 'ingress'] as const) {
    lines.push('', `### ${DIRECTIONS[d]}`, '', ...verdictTable(cells, d), '', '| verdict | rule | reference | cells |', '|---|---|---|---|');
    const byRule = new Map<string, MatrixCell[]>();
    for (const c of cells.filter((x) => x.row.direction === d)) {
      const key = `${c.verdict}\u0000${c.because}\u0000${c.reference}`;
      byRule.set(key, [...(byRule.get(key) ?? []), c]);
    }
    for (const [key, list] of byRule) {
      const [verdict, because, reference] = key.split('\u0000') as [string, string, string];
      lines.push(`| ${verdict} | ${cell(because)} | ${cell(reference)} | ${list.map((c) => c.id.slice('SGM-'.length)).join(', ')} |`);
    }
  }
  lines.push('', '### Policy variants', '', '| variant | what it changes | cells |', '|---|---|---|');
  for (const [name, v] of Object.entries(POLICY_VARIANTS))
    lines.push(
      `| ${name} | ${cell(v.description)} | ${
        Object.entries(v.overrides)
          .map(([id, p]) => `${id.slice('SGM-'.length)} → ${p.verdict}`)
          .join(', ') || '—'
      } |`,
    );
  return lines;
}
