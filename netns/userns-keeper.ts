/**
 * The keeper of a user's rootless pods (docs/rootless.md): one small process per user that holds a
 * user namespace (the user's uid mapped to 0), a mount namespace with a private /run/netns (the
 * pods' named namespaces) and a network namespace standing in for the host side, so nothing is
 * created in the host's network namespace. v6pod commands enter it (netns/userns.ts) and stop it
 * when no run is left. Everything lives in the user's state directory:
 *   keeper.pid   the keeper's PID (a process is the keeper only if its command line says so and it is ours)
 *   keeper.lock  one writer at a time of keeper.pid and entries/ (a PID file, taken over when its holder died)
 *   entries/PID  one file per v6pod command inside the namespaces now: the keeper is not stopped under it
 *   runs/        the run directories (RUN_ROOT inside)
 *   etc/         the user database the namespaces see (see keeperEtc)
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { UsageError } from '../harness/os/usage-error.ts';
import { waitUntil } from '../harness/os/wait.ts';
import { NS_PREFIX } from '../harness/pod/names.ts';
import { withPidLock } from './run-lock.ts';
import { processAlive } from './run-state.ts';

/** argv[0] of the keeper's process (`exec -a`): how a PID is recognised as a keeper. */
export const KEEPER_NAME = 'v6pod-keeper';

export interface KeeperPaths {
  dir: string;
  pid: string;
  lock: string;
  entries: string;
  runs: string;
  etc: string;
  log: string;
}

/** The user's state directory: V6POD_STATE_DIR, else $XDG_RUNTIME_DIR/v6pod, else ~/.local/state/v6pod. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.V6POD_STATE_DIR) return env.V6POD_STATE_DIR;
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/v6pod`;
  return `${env.HOME || homedir()}/.local/state/v6pod`;
}

export function keeperPaths(dir = stateDir()): KeeperPaths {
  return {
    dir,
    pid: `${dir}/keeper.pid`,
    lock: `${dir}/keeper.lock`,
    entries: `${dir}/entries`,
    runs: `${dir}/runs`,
    etc: `${dir}/etc`,
    log: `${dir}/keeper.log`,
  };
}

/** True when `pid` is a keeper of this user's (argv[0] and real uid): a recycled PID is never taken for one. */
export function isKeeper(pid: number): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 === KEEPER_NAME && statSync(`/proc/${pid}`).uid === process.getuid?.();
  } catch {
    return false;
  }
}

/** The keeper's PID when one runs. */
export function runningKeeper(p: KeeperPaths): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(p.pid, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isKeeper(pid) ? pid : undefined;
}

/** Runs `fn` holding keeper.lock: starting, entering and stopping the keeper never interleave. */
export function withKeeperLock<T>(p: KeeperPaths, fn: () => Promise<T> | T): Promise<T> {
  return withPidLock(p.lock, 'the keeper lock', fn, { intervalMs: 10 });
}

/**
 * The user database the namespaces see: the host's, without the overflow user and group (65534,
 * `nobody`/`nogroup`), read from files only. Only uid 0 exists in the user namespace, so a tool
 * that drops root to `nobody` (ipv6toolkit's ra6 does) fails on setgid(65534) with EINVAL; with no
 * such user it keeps running as the namespace's root, as it does in a root pod's namespace.
 */
function writeKeeperEtc(p: KeeperPaths): void {
  mkdirSync(p.etc, { recursive: true });
  const withoutOverflow = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.split(':')[2] !== '65534')
      .join('\n');
  writeFileSync(`${p.etc}/passwd`, withoutOverflow('/etc/passwd'));
  writeFileSync(`${p.etc}/group`, withoutOverflow('/etc/group'));
  const nss = readFileSync('/etc/nsswitch.conf', 'utf8').replace(/^(passwd|group|shadow|gshadow):.*$/gm, '$1: files');
  writeFileSync(`${p.etc}/nsswitch.conf`, nss);
}

/**
 * What the keeper runs after unshare: its mounts, one line "ready", then it only waits. /run/netns
 * becomes a tmpfs of this mount namespace (`ip netns` keeps named namespaces there). Where the host
 * has no /run/netns to mount over (none is created before root's first `ip netns add`), /run
 * itself gets a tmpfs, with the host's entries of /run bound back into it, and /run/netns beside them.
 */
const KEEPER_SCRIPT = `set -eu
etc=$1 hostrun=$2
if [ -d /run/netns ]; then
  mount -t tmpfs -o mode=0755 v6pod-netns /run/netns
else
  # The host's /run stays reachable through the working directory (hostrun may lie under /run).
  mkdir -p "$hostrun" && mount --rbind /run "$hostrun" && cd "$hostrun"
  mount -t tmpfs -o mode=0755 v6pod-run /run
  for e in * .[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    if [ -L "$e" ]; then cp -P "$e" "/run/$e"
    elif [ -d "$e" ]; then mkdir "/run/$e" && mount --rbind "$e" "/run/$e"
    else : >"/run/$e" && mount --bind "$e" "/run/$e"; fi
  done
  cd / && mkdir /run/netns
fi
mount --bind "$etc/passwd" /etc/passwd
mount --bind "$etc/group" /etc/group
mount --bind "$etc/nsswitch.conf" /etc/nsswitch.conf
ip link set lo up
echo ready
exec -a ${KEEPER_NAME} sleep infinity </dev/null >/dev/null 2>&1
`;

/** The running keeper, or a new one (call under withKeeperLock). A keeper that cannot start is one line naming why. */
export async function ensureKeeper(p: KeeperPaths): Promise<number> {
  const running = runningKeeper(p);
  if (running) return running;
  writeKeeperEtc(p);
  const log = openSync(p.log, 'w');
  const child = spawn(
    'unshare',
    ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private', '--', 'bash', '-c', KEEPER_SCRIPT, KEEPER_NAME, p.etc, `${p.dir}/hostrun`],
    { detached: true, stdio: ['ignore', 'pipe', log] },
  );
  closeSync(log);
  // Recorded at once: a command killed from here on leaves a PID file, not a keeper nobody knows.
  // (Killed before the keeper says ready, it takes the keeper with it: "echo ready" meets a closed pipe.)
  if (child.pid !== undefined) writeFileSync(p.pid, `${child.pid}\n`);
  let out = '';
  let exited: string | undefined;
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.on('exit', (code, signal) => (exited = signal ?? `exit code ${code}`));
  child.on('error', (err) => (exited = err.message));
  try {
    await waitUntil(() => (out.includes('ready\n') && isKeeper(child.pid!)) || exited !== undefined, {
      timeoutMs: 10_000,
      what: `the v6pod keeper (log ${p.log}) to start`,
    });
  } finally {
    child.stdout!.destroy();
    child.unref();
  }
  if (exited !== undefined || child.pid === undefined) {
    rmSync(p.pid, { force: true });
    const why = readFileSync(p.log, 'utf8').trim().split('\n').slice(-2).join(' / ') || exited;
    throw new UsageError(
      `rootless mode: cannot create the user namespace (unshare --user --map-root-user --net --mount: ${why}); are unprivileged user namespaces allowed here?`,
    );
  }
  return child.pid;
}

/** Registers this process as inside the namespaces (call under withKeeperLock); the returned function unregisters it. */
export function registerEntry(p: KeeperPaths, pid = process.pid): () => void {
  mkdirSync(p.entries, { recursive: true });
  const file = `${p.entries}/${pid}`;
  writeFileSync(file, '');
  return () => rmSync(file, { force: true });
}

/** The v6pod namespaces and run directories the keeper still holds: what keeps it alive. */
export function keeperHolds(p: KeeperPaths, keeper: number): string[] {
  const held: string[] = [];
  try {
    held.push(...readdirSync(p.runs).map((r) => `run directory ${p.runs}/${r}`));
  } catch {
    // no runs directory: no runs
  }
  // The keeper's /run/netns, seen from outside through its root (same user: readable).
  held.push(...readdirSync(`/proc/${keeper}/root/run/netns`).map((ns) => `namespace ${ns}${ns.startsWith(NS_PREFIX) ? '' : ' (not v6pod)'}`));
  return held;
}

/**
 * Stops the keeper when nothing needs it any more: no other v6pod command inside, no run
 * directory, no namespace. Returns whether it stopped it. A keeper that cannot be inspected stays.
 */
export async function stopKeeperIfIdle(p: KeeperPaths): Promise<boolean> {
  return withKeeperLock(p, async () => {
    const keeper = runningKeeper(p);
    if (!keeper) {
      rmSync(p.pid, { force: true });
      return false;
    }
    let others = 0;
    for (const e of safeList(p.entries)) {
      const pid = Number(e);
      if (pid === process.pid) continue;
      if (Number.isInteger(pid) && processAlive(pid)) others++;
      else rmSync(`${p.entries}/${e}`, { force: true }); // a command that was killed
    }
    if (others) return false;
    let held: string[];
    try {
      held = keeperHolds(p, keeper);
    } catch {
      return false;
    }
    if (held.length) return false;
    process.kill(keeper, 'SIGTERM');
    await waitUntil(() => !isKeeper(keeper), { timeoutMs: 5_000, what: `the v6pod keeper (PID ${keeper}) to exit` });
    unlinkSync(p.pid);
    return true;
  });
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
