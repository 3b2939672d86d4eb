/**
 * The threat matrix finds holes, exactly: one-cell holes planted into the reference driver's rules
 * for one instance make the matrix fail exactly the cells the hole exposes, and no others; with the
 * driver as shipped every cell holds.
 *
 *   NS accepted before the source check   every NS with a forged source or link-layer option
 *   no NA target check                     every NA claiming another's address
 *   UDP from port 547 to link-locals       every DHCPv6 server message to a client, also behind Hop-by-Hop
 *                                          and Destination Options (fragments stay dropped by earlier rules)
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPodFile, DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { uniqueRunName } from '../../harness/pod/names.ts';
import { run } from '../../harness/os/exec.ts';
import type { Plan } from '../../harness/pod/plan.ts';
import { clearCurrentPod, setCurrentPod } from '../../harness/probe/pod-context.ts';
import { ProbeAgent } from '../../harness/probe/agent-client.ts';
import { proveMatrix } from '../../harness/probe/matrix-run.ts';
import { securityGroupOf } from '../../harness/probe/security-groups.ts';
import { renderInstance, TABLE } from '../../harness/sg/nft-driver.ts';
import { matrixCells } from '../../harness/sg/threat-matrix.ts';

/** A hole: the instance's rendered rules changed in one place. */
type Hole = (script: string[], chain: string) => string[];

/** Inserts `rule` into `chain` just before the rule whose comment is `before`. */
const insertBefore =
  (before: string, rule: string): Hole =>
  (lines, chain) => {
    const at = lines.findIndex((l) => l.startsWith(`add rule bridge ${TABLE} ${chain} `) && l.endsWith(`comment "${before}"`));
    expect(at, `rule ${before} in ${chain}`).to.be.greaterThan(-1);
    return [...lines.slice(0, at), `add rule bridge ${TABLE} ${chain} ${rule} counter accept comment "planted-hole"`, ...lines.slice(at)];
  };
const without =
  (comment: string): Hole =>
  (lines, chain) => {
    const kept = lines.filter((l) => !(l.startsWith(`add rule bridge ${TABLE} ${chain} `) && l.endsWith(`comment "${comment}"`)));
    expect(kept.length, `rule ${comment} in ${chain}`).to.equal(lines.length - 1);
    return kept;
  };

const cross = (rows: string[], columns: string[]) => rows.flatMap((r) => columns.map((c) => `SGM-${r}.${c}`));
const SOURCE_FORGERIES = ['src-other-slaac', 'src-other-link-local', 'src-other-prefix', 'src-router', 'src-foreign-global', 'src-multicast'];

const HOLES: Array<{ name: string; hole: Hole; exposes: string[] }> = [
  {
    name: 'NS accepted before the source check',
    hole: insertBefore('source-spoof', 'icmpv6 type nd-neighbor-solicit'),
    exposes: [...cross(['ns-resolution', 'ns-nud', 'ns-dad'], SOURCE_FORGERIES), ...cross(['ns-resolution', 'ns-nud'], ['lla-other'])],
  },
  {
    name: 'no NA target check',
    hole: without('na-target'),
    exposes: cross(['na-solicited', 'na-unsolicited'], ['target-other']),
  },
  {
    name: 'UDP from port 547 to link-local destinations',
    hole: insertBefore('dhcpv6-server', 'ip6 daddr fe80::/10 udp sport 547'),
    exposes: cross(['dhcpv6-advertise', 'dhcpv6-reply', 'dhcpv6-relay-reply'], ['honest', 'hop-by-hop', 'destination-options']),
  },
];

describe('threat matrix against planted holes', function () {
  this.timeout(120_000);
  const runName = uniqueRunName('holes');
  const cells = matrixCells().filter((c) => c.row.direction === 'egress');
  let plan: Plan;

  /** Applies the attacker's group, as rendered by the reference driver and changed by `hole`. */
  async function applyAttackerGroup(hole?: Hole): Promise<void> {
    const attacker = await securityGroupOf('vm1');
    const ns = plan.nodes.find((n) => n.name === attacker.hypervisor)!.ns;
    const lines = renderInstance(attacker).split('\n');
    await run(['nft', '-f', '-'], { ns, input: `${(hole ? hole(lines, `out-${attacker.name}`) : lines).join('\n')}\n` });
  }

  /** The IDs of the cells that did not hold. */
  async function failingCells(): Promise<string[]> {
    const outcomes = await proveMatrix(cells);
    expect(outcomes.size, 'every egress cell proved').to.equal(cells.length);
    return [...outcomes].filter(([, os]) => os.some((o) => !o.ok)).map(([id]) => id);
  }

  before(async () => {
    ({ plan } = await up(loadPodFile(DEFAULT_POD_FILE), runName, { podFile: DEFAULT_POD_FILE, owner: process.pid }));
    setCurrentPod(plan, mkdtempSync(join(tmpdir(), 'v6pod-holes-')));
  });
  after(async () => {
    await ProbeAgent.closeShared();
    clearCurrentPod();
    await teardownRun(runName);
  });

  it('the reference driver as shipped holds every cell', async () => {
    expect(await failingCells()).to.deep.equal([]);
  });

  for (const { name, hole, exposes } of HOLES)
    it(`${name}: exactly the cells it exposes fail (${exposes.length})`, async () => {
      await applyAttackerGroup(hole);
      try {
        expect((await failingCells()).sort()).to.deep.equal([...exposes].sort());
      } finally {
        await applyAttackerGroup();
      }
    });
});
