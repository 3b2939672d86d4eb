/**
 * Rootless pods (docs/rootless.md): a v6pod command run by a user other than root (or with
 * --rootless) runs again inside the user's keeper namespaces (netns/userns-keeper.ts), as uid 0
 * of the user namespace, which holds CAP_NET_ADMIN and CAP_SYS_ADMIN there and nowhere else. The
 * process tree is: this command → nsenter (which execs) → setpriv --pdeathsig KILL (which execs) →
 * the same command inside, so a SIGKILL of this one takes the inner one with it, and the signals a
 * user sends (SIGINT, SIGTERM, SIGHUP) are passed on. Node cannot setns into a user namespace
 * itself (it has threads), hence the re-execution.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { UsageError } from '../harness/os/usage-error.ts';
import type { Pod } from '../harness/pod/pod-file.ts';
import { ensureKeeper, keeperPaths, registerEntry, runningKeeper, stopKeeperIfIdle, withKeeperLock } from './userns-keeper.ts';

/** Set inside the namespaces: the keeper's PID. */
const INSIDE_ENV = 'V6POD_USERNS';
/** V6POD_ROOTLESS=1 does what --rootless does. */
const ROOTLESS_ENV = 'V6POD_ROOTLESS';

/** The verbs that act on runs, and so run inside the namespaces; the others (decode, validate, report, help) run where they are. */
const VERBS_INSIDE = new Set(['up', 'down', 'status', 'exec', 'capture', 'vm', 'test', 'graph']);
/** The verbs that need a run to exist: with no keeper and no run, there is nothing to enter for. */
const VERBS_ON_A_RUN = new Set(['status', 'exec', 'capture', 'vm']);

export interface RunMode {
  mode: 'root' | 'rootless';
  /** The keeper holding the user namespace (rootless). */
  keeper?: number;
  /** The user's state directory, with the run directories under runs/ (rootless). */
  stateDir?: string;
}

/** True in a command running inside a keeper's namespaces. */
export function insideUserns(): boolean {
  return process.env[INSIDE_ENV] !== undefined;
}

export function runMode(): RunMode {
  if (!insideUserns()) return { mode: 'root' };
  return { mode: 'rootless', keeper: Number(process.env[INSIDE_ENV]), stateDir: process.env.V6POD_STATE_DIR };
}

/**
 * Takes `--rootless` out of the arguments (anywhere before a `--`: as a global option or a verb's)
 * and says whether this command must run inside the namespaces: it acts on runs and either the user
 * is not root or rootless mode was asked for.
 */
export function rootlessChoice(argv: readonly string[]): { enter: boolean; argv: string[] } {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const asked = argv.slice(0, end).includes('--rootless') || process.env[ROOTLESS_ENV] === '1';
  const rest = [...argv.slice(0, end).filter((a) => a !== '--rootless'), ...argv.slice(end)];
  if (insideUserns()) return { enter: false, argv: rest };
  const verb = rest[2];
  const help = rest.slice(2, end).some((a) => a === '-h' || a === '--help');
  const enter = (asked || process.getuid?.() !== 0) && verb !== undefined && VERBS_INSIDE.has(verb) && !help;
  return { enter, argv: rest };
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs this command again inside the keeper's namespaces (starting the keeper if there is none)
 * and returns its exit code; stops the keeper afterwards when no run is left.
 */
export async function runInUserns(argv: readonly string[]): Promise<number> {
  const p = keeperPaths();
  try {
    mkdirSync(p.runs, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UsageError(`rootless mode: cannot create the state directory ${p.dir} (${(err as Error).message}); set V6POD_STATE_DIR`);
  }
  // Starting a keeper only to find no run costs two namespaced starts of the CLI: answer as resolveRun would inside.
  if (VERBS_ON_A_RUN.has(argv[2] ?? '') && runningKeeper(p) === undefined && readdirSync(p.runs).length === 0) {
    throw new UsageError('no pod is up (v6pod up FILE)');
  }
  const { keeper, leave } = await withKeeperLock(p, async () => ({ keeper: await ensureKeeper(p), leave: registerEntry(p) }));
  try {
    const child = spawn(
      'nsenter',
      [
        `--target=${keeper}`,
        '--user',
        '--mount',
        '--net',
        // Our uid is the one mapped to 0 there: unchanged credentials are root's of the namespace.
        '--preserve-credentials',
        `--wd=${process.cwd()}`,
        '--',
        'setpriv',
        '--pdeathsig',
        'KILL',
        process.execPath,
        ...process.execArgv,
        ...argv.slice(1),
      ],
      {
        stdio: 'inherit',
        env: { ...process.env, [INSIDE_ENV]: String(keeper), V6POD_STATE_DIR: p.dir, V6POD_RUN_ROOT: p.runs },
      },
    );
    const pass = (sig: NodeJS.Signals) => child.kill(sig);
    for (const sig of FORWARDED) process.on(sig, pass);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c, s) => resolve([c, s]));
    });
    for (const sig of FORWARDED) process.off(sig, pass);
    return code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 1);
  } finally {
    leave();
    await stopKeeperIfIdle(p).catch(() => false);
  }
}

/**
 * What a rootless pod cannot have, as one line naming it and the alternative, before anything is
 * created. Outside a user namespace there is nothing to check.
 */
export function assertRootlessSupports(pod: Pod): void {
  if (!insideUserns()) return;
  if (pod.kea.backend === 'postgresql' && !pod.kea.database) {
    throw new UsageError(
      'kea.backend postgresql: a private PostgreSQL cluster cannot run in a rootless pod (PostgreSQL refuses to run as uid 0, the only user of the user namespace); set kea.database to a server of your own (host: its unix socket directory, e.g. /run/postgresql), or run as root',
    );
  }
  const synthetic = pod.hypervisors.some((h) => h.instances.some((i) => i.kind === 'synthetic'));
  if (synthetic) {
    try {
      accessSync('/dev/net/tun', fsConstants.R_OK | fsConstants.W_OK);
    } catch {
      throw new UsageError(
        'synthetic instances: /dev/net/tun is not readable and writable by you, and a rootless pod needs it for their TAPs (Debian makes it mode 0666); chmod 0666 /dev/net/tun as root, or run as root',
      );
    }
  }
}
