/**
 * Real tools inside the pod's nodes: a command run to completion (`inNode`), `ping`, and a
 * long-running tool (an attacker that answers what it sees) started and stopped by its own PID.
 * A started tool is ready when it waits for input — it holds a capture socket (libpcap's
 * ETH_P_ALL packet socket) or a bound UDP socket and sleeps in the kernel — read from /proc with
 * a bounded deadline, never assumed after a fixed delay.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { namespaceOf } from './nodes.ts';
import { run, type RunResult } from '../os/exec.ts';
import { waitUntil } from '../os/wait.ts';
import type { InstancePlan } from '../pod/plan.ts';

/** Runs a command inside a node's namespace (an instance, a router, the core, …) to completion. */
export function inNode(node: string | InstancePlan, argv: string[], opts: { allowFailure?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(argv, { ns: namespaceOf(node), timeoutMs: opts.timeoutMs ?? 10_000, allowFailure: opts.allowFailure });
}

export interface PingResult {
  reachable: boolean;
  /** ping's last lines: the statistics, for a failure message. */
  summary: string;
}

/** `ping -6` from a node: `count` echoes `intervalS` apart, each answered within `waitS`. */
export async function ping(from: string | InstancePlan, address: string, o: { count?: number; intervalS?: number; waitS?: number } = {}): Promise<PingResult> {
  const argv = ['ping', '-6', '-c', String(o.count ?? 1), ...(o.intervalS ? ['-i', String(o.intervalS)] : []), '-W', String(o.waitS ?? 2), address];
  const r = await inNode(from, argv, { allowFailure: true });
  return { reachable: r.exitCode === 0, summary: r.stdout.trim().split('\n').slice(-2).join(' ') };
}

export interface RunningTool {
  readonly pid: number;
  readonly argv: readonly string[];
  /** The last lines the tool wrote (stdout and stderr), to explain one that never acted. */
  output(): string;
  /** Stops it (SIGTERM by its PID) and waits until it has exited. */
  stop(): Promise<void>;
}

/** Inodes of the sockets a process holds. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // the fd closed while listing
    }
  }
  return out;
}

/** Rows of a /proc/PID/net table, as arrays of columns (header dropped). */
const rows = (pid: number, table: string) =>
  readFileSync(`/proc/${pid}/net/${table}`, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));

const ETH_P_ALL = '0003';

/** True when the process waits for input: a capture or bound UDP socket of its own, and asleep in the kernel. */
function waitsForInput(pid: number): boolean {
  try {
    // Until `ip netns exec` has exec'd the tool, the PID is ip's (which holds netlink sockets).
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ip') return false;
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    if (state !== 'S') return false;
    const mine = socketInodes(pid);
    if (!mine.size) return false;
    // packet: sk RefCnt Type Proto Iface R Rmem User Inode
    const capturing = rows(pid, 'packet').some((c) => c[3] === ETH_P_ALL && mine.has(c[8]!));
    // udp/udp6: sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
    const listening = ['udp', 'udp6'].some((t) => rows(pid, t).some((c) => mine.has(c[9]!) && !c[1]!.endsWith(':0000')));
    return capturing || listening;
  } catch {
    return false; // not there yet, or gone (then its exit explains it)
  }
}

/**
 * Starts a long-running tool in a node and resolves once it waits for input (see the file's
 * comment). `ip netns exec` execs the tool, so the child's PID is the tool's own: it is stopped by
 * that PID, never by name. A tool that exits or never gets ready fails with its last output.
 */
export async function startTool(node: string | InstancePlan, argv: string[], o: { readyTimeoutMs?: number } = {}): Promise<RunningTool> {
  const child = spawn('ip', ['netns', 'exec', namespaceOf(node), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: string) => (output = (output + d).slice(-2000));
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      exited ??= err.message;
      resolve();
    });
    // 'close', not 'exit': its output is all read by then.
    child.on('close', (code, signal) => {
      exited ??= signal ?? `exit ${code}`;
      resolve();
    });
  });
  const last = () => output.trim().split('\n').slice(-3).join(' | ');
  const tool: RunningTool = {
    pid: child.pid ?? -1,
    argv,
    output: last,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await gone;
    },
  };
  try {
    await waitUntil(
      () => {
        if (exited) throw new Error(`${argv.join(' ')} exited (${exited}) before it was ready${last() ? `: ${last()}` : ''}`);
        return child.pid !== undefined && waitsForInput(child.pid);
      },
      {
        timeoutMs: o.readyTimeoutMs ?? 5000,
        what: () => `${argv.join(' ')} to wait for input (a capture or UDP socket open, asleep)${last() ? `; it said: ${last()}` : ''}`,
      },
    );
  } catch (err) {
    await tool.stop();
    throw err;
  }
  return tool;
}
