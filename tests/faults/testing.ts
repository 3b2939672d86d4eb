/**
 * Helpers for the fault tests (tests/faults/*.test.ts) and bench/reliability.ts: a seeded PRNG,
 * the CLI as a child process, a small pod file of the test's own, snapshots of processes (by PID
 * *and* start time, so a recycled PID is never taken for a survivor), what a run left behind, and
 * decoys — a namespace, a root-namespace veth and processes v6pod did not create and must not touch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../harness/os/exec.ts';
import { runDir } from '../../harness/pod/names.ts';
import { v6podNamespaces } from '../../netns/teardown.ts';
import { listRuns } from '../../netns/run-state.ts';
import { waitUntil } from '../../harness/os/wait.ts';

export const CLI = fileURLToPath(new URL('../../bin/v6pod.js', import.meta.url));

export { prng, type Rng } from '../../harness/os/prng.ts';

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `v6pod ARGS` to completion (bounded by `timeoutMs`, then SIGKILL). */
export function v6pod(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.once('error', reject);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** Spawns `v6pod ARGS` in the background (output kept, so a trial can show it on failure). */
export function spawnV6pod(args: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; output: () => string; exited: Promise<void> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, output: () => out, exited };
}

/** A pod file of the test's own: the default pod's shape, its own name (so no other run shares its prefix), `vms` instances on hv1 (the first running `client`, when given). */
export function smallPodFile(
  name: string,
  vms = 1,
  synthetic = 0,
  client?: string,
  more: { relay?: string; keaBackend?: string; macSources?: string[] } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const instances =
    Array.from(
      { length: vms },
      (_, i) => `      - name: vm${i + 1}\n${i === 0 ? `        mac: 06:7a:88:00:00:8b\n${client ? `        client: ${client}\n` : ''}` : ''}`,
    ).join('') + Array.from({ length: synthetic }, (_, i) => `      - name: s${i + 1}\n        kind: synthetic\n`).join('');
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}\n${more.relay ? `relay: ${more.relay}\n` : ''}pod:\n  l2Prefix: 2001:db8:100::/64\n  pdPool: 2001:db8:200::/40\n  delegatedLength: 60\nrouters:\n  - name: r1\n    mac: 00:0c:db:f9:cf:00\n  - name: r2\n    mac: 00:12:f2:9c:33:00\ncore:\n  name: core\nkea:\n  name: kea\n${more.keaBackend ? `  backend: ${more.keaBackend}\n` : ''}${more.macSources ? `  macSources: [${more.macSources.join(', ')}]\n` : ''}tor:\n  name: tor\nhypervisors:\n  - name: hv1\n    instances:\n${instances}`,
  );
  return file;
}

/** A process as it was seen: PID plus kernel start time (a recycled PID has another). */
export interface ProcRef {
  pid: number;
  start: string;
  cmd: string;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start behind the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function procRef(pid: number): ProcRef | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    // gone
  }
  return { pid, start: f[19]!, cmd };
}

/** True while that very process (same PID, same start time) exists and is not a zombie. */
export function stillRunning(p: ProcRef): boolean {
  const f = statFields(p.pid);
  return f !== undefined && f[19] === p.start && f[0] !== 'Z' && f[0] !== 'X';
}

/** Every descendant of `root` (by parent PID), as they are now. */
export function descendants(root: number): ProcRef[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(Number(e));
    if (f) parent.set(Number(e), Number(f[1]));
  }
  const out: ProcRef[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      const ref = procRef(child);
      if (ref) out.push(ref);
      walk(child);
    }
  };
  walk(root);
  return out;
}

/** The network namespace inode a process is in (undefined once it is gone). */
export function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Processes inside the run's namespaces now (ip netns pids). */
export async function processesInRun(runName: string): Promise<ProcRef[]> {
  const out: ProcRef[] = [];
  for (const ns of v6podNamespaces().get(runName) ?? []) {
    const { stdout } = await run(['ip', 'netns', 'pids', ns], { allowFailure: true });
    for (const pid of stdout.split('\n').filter(Boolean).map(Number)) {
      const ref = procRef(pid);
      if (ref) out.push(ref);
    }
  }
  return out;
}

/** Runs (by run directory or namespace) whose name starts with `prefix`. */
export function runsWithPrefix(prefix: string): string[] {
  return [...new Set([...listRuns(), ...v6podNamespaces().keys()])].filter((r) => r.startsWith(prefix)).sort();
}

/** Everything of the run that is still there: namespaces, run directory, /run/netns mounts. Empty when clean. */
export async function leftovers(runName: string): Promise<string[]> {
  const left: string[] = [];
  const ns = `v6p-${runName}.`;
  const listed = (await run(['ip', 'netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(ns));
  left.push(...listed.map((l) => `namespace ${l.split(' ')[0]}`));
  if (existsSync(runDir(runName))) left.push(`run directory ${runDir(runName)}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/run/netns/${ns}`));
  left.push(...mounts.map((m) => `mount ${m.split(' ')[4]}`));
  return left;
}

/**
 * Objects v6pod did not create, which no v6pod command may touch: a namespace without the v6pod
 * prefix (and one that only resembles it), a veth pair in the root namespace, a process in the
 * decoy namespace and one in the root namespace named like a daemon v6pod runs.
 */
export class Decoys {
  readonly namespaces: string[];
  readonly link: string;
  private procs: ChildProcess[] = [];
  private refs: ProcRef[] = [];

  constructor(tag: string) {
    const id = process.pid % 100_000;
    this.namespaces = [`v6x-${tag}-${id}`, `v6p${tag}-${id}.vm1`];
    this.link = `dcy${id}`;
  }

  async create(): Promise<void> {
    for (const ns of this.namespaces) await run(['ip', 'netns', 'add', ns]);
    await run(['ip', 'link', 'add', 'name', this.link, 'type', 'veth', 'peer', 'name', `${this.link}p`]);
    this.procs = [
      spawn('ip', ['netns', 'exec', this.namespaces[0]!, 'sleep', '3600'], { stdio: 'ignore' }),
      spawn('ip', ['netns', 'exec', this.namespaces[1]!, 'sleep', '3600'], { stdio: 'ignore' }),
      // Named like Kea: v6pod never finds its daemons by name.
      spawn('bash', ['-c', 'exec -a kea-dhcp6 sleep 3600'], { stdio: 'ignore' }),
    ];
    // Each has exec'd its final program once its command line is `sleep …` (or the borrowed name).
    const ready = [/^sleep /, /^sleep /, /^kea-dhcp6 /];
    await waitUntil(() => this.procs.every((p, i) => p.pid !== undefined && ready[i]!.test(procRef(p.pid)?.cmd ?? '')), {
      timeoutMs: 10_000,
      what: 'the decoy processes to start',
    });
    this.refs = this.procs.map((p) => procRef(p.pid!)!);
  }

  /** What is missing of the decoys; empty when every one survived untouched. */
  async missing(): Promise<string[]> {
    const gone: string[] = [];
    const listed = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
    for (const ns of this.namespaces) if (!listed.includes(ns)) gone.push(`namespace ${ns}`);
    for (const l of [this.link, `${this.link}p`])
      if ((await run(['ip', 'link', 'show', 'dev', l], { allowFailure: true })).exitCode !== 0) gone.push(`link ${l}`);
    for (const r of this.refs) if (!stillRunning(r)) gone.push(`process ${r.pid} (${r.cmd})`);
    return gone;
  }

  async remove(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    await run(['ip', 'link', 'del', this.link], { allowFailure: true });
    for (const ns of this.namespaces) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
}
