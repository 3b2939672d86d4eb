/**
 * Scratch network namespaces for the frame I/O tests: unique per process (`v6pio-<pid>-<tag>`),
 * IPv6 autoconfiguration noise optional, deleted by the test's `after`. Nothing is created in the
 * root namespace.
 */
import { run } from '../../harness/os/exec.ts';

export class ScratchNamespace {
  readonly name: string;
  readonly path: string;

  private constructor(tag: string) {
    this.name = `v6pio-${process.pid}-${tag}`;
    this.path = `/run/netns/${this.name}`;
  }

  /** Creates `v6pio-<pid>-<tag>`; `quiet` turns IPv6 off on links created later (no RS/MLD/DAD frames). */
  static async create(tag: string, opts: { quiet?: boolean } = {}): Promise<ScratchNamespace> {
    const ns = new ScratchNamespace(tag);
    await run(['ip', 'netns', 'add', ns.name]);
    if (opts.quiet) await ns.sysctl('net.ipv6.conf.default.disable_ipv6', '1');
    return ns;
  }

  /** Runs `ip ARGS` inside the namespace. */
  ip(...args: string[]): ReturnType<typeof run> {
    return run(['ip', '-n', this.name, ...args]);
  }

  /** Feeds many `ip` commands to one `ip -batch` (one spawn instead of hundreds). */
  ipBatch(lines: string[]): ReturnType<typeof run> {
    return run(['ip', '-n', this.name, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  }

  sysctl(key: string, value: string): ReturnType<typeof run> {
    return run(['sysctl', '-q', '-w', `${key}=${value}`], { ns: this.name });
  }

  /** Whether link `name` exists in this namespace. */
  async hasLink(name: string): Promise<boolean> {
    const r = await run(['ip', '-n', this.name, 'link', 'show', 'dev', name], { allowFailure: true });
    return r.exitCode === 0;
  }

  async macOf(link: string): Promise<string> {
    const { stdout } = await this.ip('-json', 'link', 'show', 'dev', link);
    return (JSON.parse(stdout) as { address: string }[])[0]!.address;
  }

  async delete(): Promise<void> {
    await run(['ip', 'netns', 'del', this.name], { allowFailure: true });
  }
}

/** Whether link `name` exists in the root namespace (to prove nothing landed there). */
export async function rootHasLink(name: string): Promise<boolean> {
  const r = await run(['ip', 'link', 'show', 'dev', name], { allowFailure: true });
  return r.exitCode === 0;
}
