/**
 * The inspection verbs end to end, each a separate `node` process against a real pod of their own
 * (run `t-inspcli-<random>`, owned by this process): status, exec, graph, capture — their output,
 * their exit codes, and one line with exit 2 for what the user got wrong.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { loadPodFile } from '../../harness/pod/pod-file.ts';
import { DEFAULT_POD_FILE } from '../../harness/pod/pod-file.ts';
import { buildPlan } from '../../harness/pod/plan.ts';
import { up } from '../../netns/realize.ts';
import { teardownRun } from '../../netns/teardown.ts';
import { readState } from '../../netns/run-state.ts';
import { daemonAlive } from '../../netns/daemons/process.ts';
import { run } from '../../harness/os/exec.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { readPcap } from '../../harness/packet/pcap.ts';
import { decodeFrame } from '../../harness/packet/frame.ts';
import type { RunStatus } from '../../netns/inspect.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const RUN = `t-inspcli-${randomBytes(3).toString('hex')}`;
const pod = loadPodFile(DEFAULT_POD_FILE);
const plan = buildPlan(pod, RUN);
const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'docs/status.schema.json'), 'utf8')));

const CLI = join(ROOT, 'bin/v6pod.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `v6pod ARGS…`; `started` resolves once stderr shows `ready` (tcpdump's "listening on"). */
function v6pod(args: string[], ready?: RegExp): { started: Promise<void>; done: Promise<Result> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onReady = () => undefined as void;
  const started = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (!ready || ready.test(stderr)) onReady();
  });
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { started, done };
}

const cli = (...args: string[]) => v6pod(args).done;

describe(`v6pod status, exec, graph, capture (live pod ${RUN})`, function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'v6pod-inspect-'));
    await up(pod, RUN, { podFile: DEFAULT_POD_FILE, owner: process.pid });
  });
  after(async () => {
    await teardownRun(RUN);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('status', () => {
    it('--json prints one object valid against docs/status.schema.json, verdict ok, exit 0', async () => {
      const r = await cli('status', '--run', RUN, '--json');
      expect(r.code, r.stderr).to.equal(0);
      const s = JSON.parse(r.stdout) as RunStatus;
      expect(validate(s), JSON.stringify(validate.errors)).to.equal(true);
      expect(s).to.include({ run: RUN, verdict: 'ok' });
      expect(s.instances.map((i) => i.slaac.kernel[0])).to.deep.equal(plan.instances.map((i) => i.slaac));
    });

    it('prints tables naming every node, daemon and instance with its predicted SLAAC address', async () => {
      const r = await cli('status', '--run', RUN);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^run ${RUN}: pod default .* ok$`, 'm'));
      for (const n of plan.nodes) expect(r.stdout).to.match(new RegExp(`^${n.name} +${n.role} +${n.ns.replace(/\./g, '\\.')} +ok`, 'm'));
      for (const i of plan.instances) expect(r.stdout).to.match(new RegExp(`^${i.name} .* ${i.slaac} +usable +2/2 +ok$`, 'm'));
      expect(r.stdout).to.match(/^radvd +r2 +\d+ +alive /m);
    });

    it('names an unknown run in one line, exit 2', async () => {
      const r = await cli('status', '--run', 'no-such-run-x');
      expect(r.code).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(/^v6pod: no run 'no-such-run-x'/);
    });
  });

  describe('exec', () => {
    it("runs the command in the node's namespace with its output and its exit code", async () => {
      const vm1 = plan.instances[0]!;
      const r = await cli('exec', '--run', RUN, 'vm1', '--', 'sh', '-c', 'ip -6 -br addr show dev eth0; exit 3');
      expect(r.code).to.equal(3);
      expect(r.stdout).to.include(vm1.slaac).and.include(vm1.linkLocal);
      const ok = await cli('exec', '--run', RUN, 'r1', 'ip', '-6', 'route', 'show', 'default');
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.match(/^default via fe80::2 dev uplink/);
    });

    it('lists the nodes in one line for an unknown node, exit 2', async () => {
      const r = await cli('exec', '--run', RUN, 'vm9', '--', 'true');
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal(`v6pod: no node 'vm9' in run '${RUN}' (nodes: ${plan.nodes.map((n) => n.name).join(', ')})\n`);
    });
  });

  describe('graph', () => {
    const edge = (a: string, b: string) => new RegExp(`^  ("${a}" -- "${b}"|"${b}" -- "${a}") \\[taillabel=".+" headlabel=".+"\\];$`, 'm');

    it('draws every node and every link from the pod file alone (dot), with key addresses and interface names', async () => {
      const r = await cli('graph', DEFAULT_POD_FILE, '--format', 'dot');
      expect(r.code, r.stderr).to.equal(0);
      for (const n of plan.nodes) expect(r.stdout).to.match(new RegExp(`^  "${n.name}" \\[shape=\\w+ label="${n.name} \\(${n.role}\\)`, 'm'));
      for (const l of plan.links) expect(r.stdout).to.match(edge(l.a.node, l.b.node));
      expect(r.stdout.match(/ -- /g)).to.have.length(plan.links.length);
      expect(r.stdout).to.include('taillabel="vnet0" headlabel="eth0"');
      for (const rt of plan.routers) expect(r.stdout).to.include(`lan ${rt.lanAddress}/64\\n${rt.linkLocal}`);
      for (const i of plan.instances) expect(r.stdout).to.include(`${i.mac}\\n${i.slaac}`);
    });

    it('renders svg through Graphviz, and mermaid, for the running pod', async () => {
      const out = join(dir, 'pod.svg');
      const svg = await cli('graph', '--run', RUN, '--format', 'svg', '-o', out);
      expect(svg.code, svg.stderr).to.equal(0);
      const text = readFileSync(out, 'utf8');
      expect(text).to.include('<svg');
      for (const n of plan.nodes) expect(text).to.include(`<title>${n.name}</title>`);
      const mermaid = await cli('graph', '--run', RUN);
      expect(mermaid.stdout).to.match(/^graph TD$/m);
      for (const n of plan.nodes) expect(mermaid.stdout).to.include(`n_${n.name}`);
      expect(mermaid.stdout.match(/---\|/g)).to.have.length(plan.links.length);
    });

    it('refuses an unknown format in one line, exit 2', async () => {
      const r = await cli('graph', DEFAULT_POD_FILE, '--format', 'png');
      expect(r.code).to.equal(2);
      expect(r.stderr).to.equal('v6pod: --format png: expected one of mermaid, dot, svg\n');
    });
  });

  describe('capture', () => {
    const RS_ONLY = 'icmp6 and ip6[40] == 133';
    const vm1 = () => plan.instances[0]!;
    const solicit = () => run(['rdisc6', '-1', '-w', '300', 'eth0'], { ns: vm1().ns, allowFailure: true });

    it('prints the Router Solicitation an instance sends, decoded, and stops after -c frames', async () => {
      const c = v6pod(['capture', '--run', RUN, 'vm1', 'eth0', '-c', '1', '--filter', RS_ONLY], /listening on/);
      await c.started;
      await solicit();
      const r = await c.done;
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/^#1 t=[\d.]+ len=\d+ \| ethernet \{dst=33:33:00:00:00:02 src=06:7a:88:00:00:8b /);
      expect(lines[0]).to.include(`src=${vm1().linkLocal} dst=ff02::2`).and.include('icmpv6 router-solicitation (133)');
    });

    it('writes the frames to a pcap file with -w', async () => {
      const file = join(dir, 'rs.pcap');
      const c = v6pod(['capture', '--run', RUN, 'vm1', 'eth0', '-c', '1', '--filter', RS_ONLY, '-w', file], /listening on/);
      await c.started;
      await solicit();
      const r = await c.done;
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.include(`capture: 1 frames written to ${file}`);
      const frames = readPcap(file).records.map((rec) => decodeFrame(rec.data));
      expect(frames.map((f) => f.icmpv6?.type)).to.deep.equal(['router-solicitation']);
    });

    it('names an unknown interface or node in one line, exit 2', async () => {
      const iface = await cli('capture', '--run', RUN, 'vm1', 'eth9');
      expect(iface.code).to.equal(2);
      expect(iface.stderr).to.equal("v6pod: no interface 'eth9' in vm1 (interfaces: lo, eth0)\n");
      const node = await cli('capture', '--run', RUN, 'vm9', 'eth0');
      expect(node.code).to.equal(2);
      expect(node.stderr).to.match(/^v6pod: no node 'vm9' in run .*\n$/);
    });
  });

  describe('status of a degraded pod', () => {
    it("shows r2's radvd dead (r1's alive) and exits 1 once radvd of r2 is killed by its recorded PID", async () => {
      const radvd = readState(RUN)!.daemons.find((d) => d.name === 'radvd' && d.node === 'r2')!;
      process.kill(radvd.pid, 'SIGKILL');
      await waitUntil(() => !daemonAlive(radvd), { timeoutMs: 5000, what: `radvd (pid ${radvd.pid}) to die` });
      const json = await cli('status', '--run', RUN, '--json');
      expect(json.code).to.equal(1);
      const s = JSON.parse(json.stdout) as RunStatus;
      expect(validate(s), JSON.stringify(validate.errors)).to.equal(true);
      expect(s.verdict).to.equal('degraded');
      expect(s.daemons.map((d) => `${d.name}@${d.node}:${d.alive}`)).to.deep.equal([
        'kea-dhcp6@kea:true',
        'radvd@r1:true',
        'dhcp6-relay@r1:true',
        'radvd@r2:false',
        'dhcp6-relay@r2:true',
      ]);
      const text = await cli('status', '--run', RUN);
      expect(text.code).to.equal(1);
      expect(text.stdout).to.match(new RegExp(`^radvd +r2 +${radvd.pid} +DEAD `, 'm'));
      expect(text.stdout).to.match(/^problems:\n {2}- daemon radvd on r2 \(pid \d+\) is dead/m);
      expect(text.stdout).to.match(new RegExp(`^run ${RUN}: .* degraded$`, 'm'));
    });
  });
});
