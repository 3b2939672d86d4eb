/**
 * Daemon supervision inside a namespace: start in the background with its output in a log file,
 * recognise it later by PID *and* command line (a recycled PID is never signalled), stop it by
 * SIGTERM then SIGKILL with a bounded wait. Never by name.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { processAlive, type DaemonRecord } from '../run-state.ts';
import { waitUntil } from '../../harness/os/wait.ts';
import { lowerPriority } from '../../harness/os/priority.ts';

export class DaemonError extends Error {
  override name = 'DaemonError';
}

/** How daemons started by this process ended (by PID), for the one-line error that names them. */
const exits = new Map<number, string>();
/** PIDs of the daemons this process started: their end is known here (`exits`), not guessed from /proc. */
const children = new Set<number>();

export interface StartOptions {
  name: string;
  node: string;
  ns: string;
  argv: string[];
  log: string;
  env?: Record<string, string>;
  /**
   * What `ip netns exec` runs when that is not `argv` itself: a wrapper (`sh -c 'mount … && exec …'`)
   * that execs the daemon. Such a daemon (and one that rewrites its process title, as dhcpcd does)
   * is then known by its PID and start time instead of its command line.
   */
  launch?: string[];
  /** A lower CPU priority (nice 1–19) for a daemon whose load must yield to the pod's own (harness/os/priority.ts). */
  nice?: number;
}

/** Starts the daemon; resolves once it has been running for `settleMs` without exiting. */
export async function startDaemon(opts: StartOptions): Promise<DaemonRecord> {
  const fd = openSync(opts.log, 'a');
  // `ip netns exec` enters the namespace and execs the daemon: the child PID is the daemon's.
  const child = spawn('ip', ['netns', 'exec', opts.ns, ...(opts.launch ?? opts.argv)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...opts.env },
  });
  closeSync(fd);
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', (err) => reject(new DaemonError(`${opts.name} on ${opts.node} did not start: ${err.message}`)));
  });
  child.unref();
  children.add(pid);
  if (opts.nice) lowerPriority(pid, opts.nice);
  // Kept for the error message should the daemon die while this process still runs.
  child.once('exit', (code, sig) => exits.set(pid, sig ? `killed by ${sig}` : `exit code ${code}`));
  const starttime = opts.launch ? startTime(pid) : undefined;
  return { name: opts.name, node: opts.node, ns: opts.ns, pid, argv: opts.argv, log: opts.log, ...(starttime !== undefined ? { starttime } : {}) };
}

/** The process's start time (clock ticks after boot, field 22 of /proc/PID/stat): fixed for its life, across execve. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * True while the recorded process runs with the recorded command line (not a recycled PID, not a
 * zombie). `starting: false` before signalling: then only a command line seen to match will do.
 */
export function daemonAlive(d: DaemonRecord, starting = true): boolean {
  const cmd = cmdline(d.pid);
  if (cmd === undefined) return false;
  if (!processAlive(d.pid)) return false; // gone, or a zombie
  // Our own child whose exit we have not seen is alive, whatever it runs yet: a wrapper that will
  // exec the daemon has another command line for a moment.
  if (starting && children.has(d.pid) && !exits.has(d.pid)) return true;
  // Known by PID and start time: a recycled PID starts at another time.
  if (d.starttime !== undefined) return startTime(d.pid) === d.starttime;
  // Mid-execve (`ip netns exec` becoming the daemon) /proc/PID/cmdline reads empty for a moment:
  // a live, non-zombie process there is the daemon starting, not a dead one.
  if (cmd.length === 0) return starting;
  return cmd.join('\0') === d.argv.join('\0') || (cmd[0] === 'ip' && cmd.slice(4).join('\0') === d.argv.join('\0'));
}

/** The last lines of a daemon's log, for error messages. */
export function logTail(path: string, lines = 3): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join(' / ');
  } catch {
    return '(no log)';
  }
}

/** Fails with the daemon's name and log when it is not running. */
export function assertAlive(d: DaemonRecord): void {
  if (!daemonAlive(d))
    throw new DaemonError(`${d.name} on ${d.node} exited${exits.has(d.pid) ? ` (${exits.get(d.pid)})` : ''}; its log ${d.log} ends: ${logTail(d.log)}`);
}

/** Signals the daemon's process group (it was started as a group leader), so its helpers (radvd's privsep child) go too. */
function signal(d: DaemonRecord, sig: NodeJS.Signals): void {
  try {
    process.kill(-d.pid, sig);
  } catch {
    process.kill(d.pid, sig);
  }
}

export async function stopDaemon(d: DaemonRecord, timeoutMs = 3000): Promise<void> {
  if (!daemonAlive(d, false)) return;
  signal(d, 'SIGTERM');
  try {
    await waitUntil(() => !daemonAlive(d), { timeoutMs, what: `${d.name} on ${d.node} (pid ${d.pid}) to exit after SIGTERM` });
  } catch {
    if (daemonAlive(d, false)) signal(d, 'SIGKILL');
    await waitUntil(() => !daemonAlive(d), { timeoutMs, what: `${d.name} on ${d.node} (pid ${d.pid}) to exit after SIGKILL` });
  }
}
