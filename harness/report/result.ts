/**
 * The JSON result of a conformance run (artifacts/<run>/result.json): every scenario with its
 * metadata, verdict, duration, failure (expected / seen) and evidence files, plus the run's figures.
 * The Markdown summary, the HTML report and `v6pod report merge` are all built from it.
 */
import type { ScenarioMeta } from '../probe/scenario.ts';

export type Verdict = 'pass' | 'fail' | 'skip';

export interface ScenarioResult extends ScenarioMeta {
  area: string;
  verdict: Verdict;
  durationMs: number;
  failure?: { message: string; expected?: string; actual?: string };
  /** Evidence kept with the result (pcap paths relative to the artifacts directory). */
  pcaps: string[];
  /** Packet ladders drawn from the pcaps, for failures. */
  ladders?: Record<string, string[]>;
}

export interface RunResult {
  tool: 'v6pod';
  schema: 1;
  run: string;
  podFile: string;
  /** The routers' relay and Kea's MAC sources the run used (docs/relays.md); absent in results from before them. */
  relay?: { kind: string; command?: string; macSources: string[] };
  shard?: { index: number; count: number };
  startedAt: string;
  figures: { wallSeconds: number; upSeconds: number; scenariosSeconds: number; downSeconds: number };
  totals: { passed: number; failed: number; skipped: number };
  scenarios: ScenarioResult[];
}

/** The run's relay and Kea MAC sources in words, when not the default (v6pod's relay, option 37 only): ", relay isc-dhcrelay, Kea mac-sources [duid]". */
export function relayText(r: RunResult): string {
  const x = r.relay;
  if (!x || (x.kind === 'v6pod' && x.macSources.join() === 'remote-id')) return '';
  return `, relay ${x.kind}${x.command ? ` (${x.command})` : ''}, Kea mac-sources [${x.macSources.join(', ')}]`;
}

export function areaOf(id: string): string {
  return id.split('-')[0] ?? id;
}

export function totalsOf(scenarios: readonly ScenarioResult[]): RunResult['totals'] {
  return {
    passed: scenarios.filter((s) => s.verdict === 'pass').length,
    failed: scenarios.filter((s) => s.verdict === 'fail').length,
    skipped: scenarios.filter((s) => s.verdict === 'skip').length,
  };
}

/** Joins shard results into one: scenarios in catalogue order, figures summed (wall: the longest shard). */
export function mergeResults(parts: readonly RunResult[]): RunResult {
  if (!parts.length) throw new Error('nothing to merge');
  const scenarios = parts.flatMap((p) => p.scenarios).sort((a, b) => a.id.localeCompare(b.id));
  const sum = (k: keyof RunResult['figures']) => +parts.reduce((n, p) => n + p.figures[k], 0).toFixed(3);
  return {
    tool: 'v6pod',
    schema: 1,
    run: parts.map((p) => p.run).join('+'),
    podFile: parts[0]!.podFile,
    ...(parts[0]!.relay ? { relay: parts[0]!.relay } : {}),
    startedAt: parts.map((p) => p.startedAt).sort()[0]!,
    figures: {
      wallSeconds: Math.max(...parts.map((p) => p.figures.wallSeconds)),
      upSeconds: sum('upSeconds'),
      scenariosSeconds: sum('scenariosSeconds'),
      downSeconds: sum('downSeconds'),
    },
    totals: totalsOf(scenarios),
    scenarios,
  };
}
