/**
 * docs/conformance.md, generated from the scenarios' own metadata (ID, title, reference, what
 * it proves), so the catalogue a reader sees is the one that runs. Scenario files are imported
 * with stand-in `describe`/`it` that only record, not run.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scenarioFiles, type ScenarioMeta } from '../probe/scenario.ts';
import { runnableFile } from '../os/runnable.ts';
import { matrixCatalogue } from './matrix-doc.ts';

export const CONFORMANCE_DOC = new URL('../../docs/conformance.md', import.meta.url).pathname;

const AREAS: Record<string, string> = {
  SLAAC: 'SLAAC: addresses and default routes',
  POD: 'Pod reachability',
  PD: 'Prefix delegation',
  RELAY: 'The routers’ DHCPv6 relay',
  TRUST: 'Trust: the client is who the network saw (relay × Kea MAC source; docs/relays.md)',
  SG: 'Security groups',
  SGM: 'Security-group threat matrix (generated from the policy)',
  SCALE: 'Every instance of a large pod (`--profile scale`, scenarios/scale/)',
  GUEST: 'Real guests: DHCPv6 clients and address modes (`--pod fixtures/pods/guests.yaml --profile guests`, scenarios/guests/; docs/guests.md)',
};

/** Every scenario's metadata: the conformance catalogue, the scale profile's (IDs SCALE-…) and the guest matrix's (GUEST-…). */
export async function loadScenarioMetadata(): Promise<ScenarioMeta[]> {
  const g = globalThis as Record<string, unknown>;
  const saved = { describe: g.describe, it: g.it, before: g.before, after: g.after, beforeEach: g.beforeEach, afterEach: g.afterEach };
  const noop = () => undefined;
  Object.assign(g, { describe: (_t: string, fn: () => void) => fn(), it: noop, before: noop, after: noop, beforeEach: noop, afterEach: noop });
  try {
    for (const f of [...scenarioFiles('conformance'), ...scenarioFiles('scale'), ...scenarioFiles('guests')]) await import(pathToFileURL(f).href);
    // Read the registry through the same loader the scenario files used (a static import may be a second instance).
    const { scenarioRegistry } = (await import(
      pathToFileURL(runnableFile(fileURLToPath(new URL('../probe/scenario.ts', import.meta.url)))).href
    )) as typeof import('../probe/scenario.ts');
    return [...scenarioRegistry()];
  } finally {
    Object.assign(g, saved);
  }
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/**
 * A matrix area other than the threat matrix (which has its own generated section): rows × columns,
 * each cell what it expects (or "unsupported" and why), then every cell's ID, title and reference.
 */
function matrixTable(list: readonly ScenarioMeta[]): string[] {
  const rows = [...new Set(list.map((m) => m.matrix!.row))];
  const columns = [...new Set(list.map((m) => m.matrix!.column))];
  const at = new Map(list.map((m) => [`${m.matrix!.row}.${m.matrix!.column}`, m]));
  return [
    `| row \\ column | ${columns.join(' | ')} |`,
    `|---|${columns.map(() => '---|').join('')}`,
    ...rows.map((r) => `| ${r} | ${columns.map((c) => cell(at.get(`${r}.${c}`)?.matrix?.expect ?? 'n.a.')).join(' | ')} |`),
    '',
    '| ID | Scenario | Reference | Proves |',
    '|---|---|---|---|',
    ...list.map(
      (m) => `| ${m.id} | ${cell(m.unsupported ? `${m.title} (unsupported: ${m.unsupported})` : m.title)} | ${cell(m.reference)} | ${cell(m.proves)} |`,
    ),
  ];
}

export function renderConformanceDoc(metas: readonly ScenarioMeta[]): string {
  const byArea = new Map<string, ScenarioMeta[]>();
  for (const m of metas) {
    const area = m.id.split('-')[0]!;
    byArea.set(area, [...(byArea.get(area) ?? []), m]);
  }
  const lines = [
    '# Conformance catalogue',
    '',
    '<!-- Generated from the scenarios in scenarios/*.scenario.ts and scenarios/scale/; regenerate with `V6POD_UPDATE_DOCS=1 npx mocha harness/report/conformance-doc.test.ts`. -->',
    '',
    `${metas.filter((m) => !m.matrix).length} scenarios and ${metas.filter((m) => m.matrix).length} matrix cells. \`v6pod test --grep ID\` runs one.`,
  ];
  for (const [area, list] of byArea) {
    lines.push('', `## ${AREAS[area] ?? area}`, '');
    if (area === 'SGM') {
      lines.push(...matrixCatalogue());
      continue;
    }
    if (list.every((m) => m.matrix)) {
      lines.push(...matrixTable(list));
      continue;
    }
    lines.push('| ID | Scenario | Reference | Proves |', '|---|---|---|---|');
    for (const m of [...list].sort((a, b) => a.id.localeCompare(b.id))) lines.push(`| ${m.id} | ${cell(m.title)} | ${cell(m.reference)} | ${cell(m.proves)} |`);
  }
  return `${lines.join('\n')}\n`;
}
