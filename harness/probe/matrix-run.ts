/**
 * The security-group threat matrix on the running pod: one scenario per cell (IDs `SGM-<row>.<column>`,
 * so JUnit has a test case per cell), proved many cells per capture window by the batch proof.
 *
 *   set up         who is who: the attacker is an instance sharing its hypervisor with a neighbour and
 *                  holding a delegated prefix; "other" an instance behind another hypervisor with one;
 *                  the ingress victim an instance of the attacker's hypervisor whose group opens a TCP port.
 *   act            the cells this run selected (profile, --grep, shard), in windows of up to BATCH
 *                  frames, each window with the honest frame of every row in it as positive control.
 *   pass criteria  each cell's frame entered the port, and was seen beyond it exactly when the policy
 *                  (or the variant the driver declared, `--sg-policy`) says pass; the reference
 *                  driver's drop counters account for every drop.
 */
import { expect } from 'chai';
import { attachEvidence, scenario } from './scenario.ts';
import { currentPod, runSelection } from './pod-context.ts';
import { core, kea, routers } from './nodes.ts';
import { send } from './instance.ts';
import { securityGroupOf } from './security-groups.ts';
import { proveBatches, type CellOutcome, type ProbeBatch, type ProbeCell } from './batch-proof.ts';
import { matrixCells, quickSample, type MatrixCell } from '../sg/threat-matrix.ts';
import { cellFrames, controlFrame, controlRowOf, replyRequest, type Identities } from '../sg/threat-frames.ts';
import { ipv6Cidrs } from '../sg/model.ts';
import { Prefix } from '../addr/prefix.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** Cells per capture window: enough to keep the matrix well under a minute, few enough that a window stays short. */
const BATCH = 40;
/** The environment variable that carries `--sg-policy` to the scenarios. */
export const SG_POLICY_ENV = 'V6POD_SG_POLICY';

/** The first address of a prefix plus one: an address inside it. */
const inside = (prefix: string) => Prefix.parse(prefix).address(1n);

async function ingressPorts(victim: InstancePlan): Promise<{ open: number; closed: number } | undefined> {
  const rules = (await securityGroupOf(victim.name)).rules.filter((r) => r.direction === 'ingress' && r.protocol === 'tcp' && ipv6Cidrs(r).includes('::/0'));
  const open = rules[0]?.start;
  if (open === undefined) return undefined;
  const opened = (port: number) => rules.some((r) => r.start <= port && port <= r.end);
  const closed = [23, 24, 25, 2323, 60000].find((p) => !opened(p))!;
  return { open, closed };
}

/** Who is who, from the pod: fails naming what the pod lacks for the matrix. */
async function identities(): Promise<{ ids: Identities; attacker: InstancePlan; victim: InstancePlan }> {
  const all = currentPod().instances;
  const withPrefix = async (i: InstancePlan) => ((await securityGroupOf(i.name)).prefixes.length ? i : undefined);
  let attacker: InstancePlan | undefined;
  for (const i of all) if (all.some((n) => n !== i && n.hypervisor === i.hypervisor) && (await withPrefix(i))) attacker ??= i;
  if (!attacker) throw new Error('the matrix needs an instance with a delegated prefix sharing its hypervisor with another instance');
  const neighbour = all.find((n) => n !== attacker && n.hypervisor === attacker!.hypervisor)!;
  let other: InstancePlan | undefined;
  for (const i of all) if (i.hypervisor !== attacker.hypervisor && (await withPrefix(i))) other ??= i;
  if (!other) throw new Error('the matrix needs an instance with a delegated prefix behind another hypervisor');
  let victim: InstancePlan | undefined;
  let ports: { open: number; closed: number } | undefined;
  for (const i of all.filter((x) => x.hypervisor === attacker!.hypervisor)) if (!victim && (ports = await ingressPorts(i))) victim = i;
  if (!victim || !ports) throw new Error(`the matrix needs an instance on ${attacker.hypervisor} whose group opens a TCP port to ::/0 (e.g. I:tcp;22;22;::/0)`);
  const r = routers()[0]!;
  const ids: Identities = {
    self: {
      mac: attacker.mac,
      slaac: attacker.slaac,
      linkLocal: attacker.linkLocal,
      ownPrefixAddress: inside((await securityGroupOf(attacker.name)).prefixes[0]!),
    },
    neighbour: { mac: neighbour.mac },
    other: { mac: other.mac, slaac: other.slaac, linkLocal: other.linkLocal, prefixAddress: inside((await securityGroupOf(other.name)).prefixes[0]!) },
    router: { mac: r.mac, linkLocal: r.linkLocal },
    core: core().address,
    server: kea().address,
    victim: { mac: victim.mac, slaac: victim.slaac, linkLocal: victim.linkLocal },
    openPort: ports.open,
    closedPort: ports.closed,
  };
  return { ids, attacker, victim };
}

/** Splits `items` into runs of at most `n`. */
const chunks = <T>(items: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(items.length / n) }, (_, i) => items.slice(i * n, (i + 1) * n));

/** Proves `cells` in windows; a cell of two frames (fragments) holds only if both hold. Outcomes by cell ID. */
export async function proveMatrix(cells: readonly MatrixCell[]): Promise<Map<string, CellOutcome[]>> {
  const { ids, attacker, victim } = await identities();
  let tag = (Date.now() % 0x7ffff) * 0x800; // unique bytes across runs on the same pod, too
  const next = () => ++tag;
  const batches: ProbeBatch[] = [];
  for (const direction of ['egress', 'ingress'] as const) {
    const mine = cells.filter((c) => c.row.direction === direction);
    chunks(mine, BATCH).forEach((group, k) => {
      const probeCells: ProbeCell[] = [];
      const replies: Buffer[] = [];
      for (const cell of group) {
        const t = next();
        const frames = cellFrames(cell, ids, t);
        if (!frames) continue;
        frames.forEach((frame, i) => probeCells.push({ id: frames.length > 1 ? `${cell.id}#${i + 1}` : cell.id, frame, expect: cell.verdict }));
        if (cell.row.id === 'in-udp' && cell.column.id === 'reply') replies.push(replyRequest(ids, t));
      }
      const controls = [...new Set(group.map((c) => controlRowOf(c.row)))].map((row) => controlFrame(row, ids, next()));
      batches.push({
        guard: direction === 'egress' ? { from: attacker.name } : { to: victim.name, via: `${routers()[0]!.name}:lan` },
        controls,
        cells: probeCells,
        label: `SGM-${direction}-${k + 1}`,
        ...(replies.length ? { before: () => send(victim.name, ...replies) } : {}),
      });
    });
  }
  const outcomes = new Map<string, CellOutcome[]>();
  for (const o of await proveBatches(batches)) {
    const id = o.id.replace(/#\d+$/, '');
    outcomes.set(id, [...(outcomes.get(id) ?? []), o]);
  }
  return outcomes;
}

/** The cells this run runs: its profile's sample, its grep, its shard (the suite's tests after pruning). */
function selected(cells: readonly MatrixCell[], titles: ReadonlySet<string>, titleOf: (c: MatrixCell) => string): MatrixCell[] {
  const { profile, grep } = runSelection();
  const sample = new Set(quickSample(cells).map((c) => c.id));
  return cells.filter((c) => titles.has(titleOf(c)) && (profile !== 'quick' || sample.has(c.id)) && (!grep || grep.test(titleOf(c))));
}

/**
 * Declares every cell of the matrix as a scenario (inside the caller's `describe`), judged by the
 * policy variant the run's driver declared.
 */
export function threatMatrixScenarios(): void {
  const cells = matrixCells(process.env[SG_POLICY_ENV] || 'v6pod');
  const sample = new Set(quickSample(cells).map((c) => c.id));
  const titleOf = (c: MatrixCell) => `${c.id} ${c.row.title}, ${c.column.title}: ${c.verdict}`;
  let proved: Promise<Map<string, CellOutcome[]>> | undefined;
  let titles = new Set<string>();
  before(function () {
    titles = new Set((this.test?.parent?.tests ?? []).map((t) => t.title));
  });
  for (const cell of cells)
    scenario(
      {
        id: cell.id,
        title: titleOf(cell).slice(cell.id.length + 1),
        reference: cell.reference,
        proves: `${cell.because}${cell.variant ? ` (policy variant ${cell.variant})` : ''}`,
        notInQuickSample: !sample.has(cell.id),
        matrix: { row: cell.row.id, column: cell.column.id, expect: cell.verdict },
      },
      async () => {
        proved ??= proveMatrix(selected(cells, titles, titleOf));
        const outcomes = (await proved).get(cell.id);
        expect(outcomes, `${cell.id}: no frame was built for it (the pod lacks what it forges)`).to.not.equal(undefined);
        attachEvidence(
          cell.id,
          outcomes!.flatMap((o) => o.evidence),
        );
        const bad = outcomes!.filter((o) => !o.ok);
        if (bad.length) expect.fail(`${cell.id}: the policy says ${cell.verdict} (${cell.because}; ${cell.reference}); ${bad.map((o) => o.detail).join('; ')}`);
      },
    );
}
