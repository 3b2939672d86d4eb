/**
 * A packet capture on one interface of one namespace (tcpdump in immediate mode, written to a
 * pcap kept as evidence), read back and decoded while it runs so a scenario can wait for the
 * frames it expects instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parsePcap } from '../packet/pcap.ts';
import { decodeFrame, type DecodedFrame } from '../packet/frame.ts';
import { DecodeError } from '../packet/errors.ts';
import { waitUntil } from '../../netns/wait.ts';

export interface CapturedFrame {
  timestampUs: number;
  frame: DecodedFrame;
}

export class Capture {
  private constructor(
    readonly file: string,
    private readonly child: ChildProcess,
    private readonly where: string,
  ) {}

  static async start(ns: string, iface: string, file: string, filter = 'ip6'): Promise<Capture> {
    const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '--immediate-mode', '-U', '-s', '0', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const capture = new Capture(file, child, `${iface} in ${ns}`);
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`tcpdump on ${iface} in ${ns} failed: ${stderr.trim()}`);
        return stderr.includes('listening on');
      },
      { timeoutMs: 5000, what: `tcpdump to listen on ${iface} in ${ns}` },
    );
    return capture;
  }

  /** Frames captured so far (undecodable frames are skipped: scenarios look for specific frames). */
  frames(): CapturedFrame[] {
    if (!existsSync(this.file)) return [];
    const { records } = parsePcap(readFileSync(this.file), this.file, true);
    return records.flatMap((r) => {
      try {
        return [{ timestampUs: r.timestampUs, frame: decodeFrame(r.data) }];
      } catch (err) {
        if (err instanceof DecodeError) return [];
        throw err;
      }
    });
  }

  /** Waits until `select` finds what it needs in the frames captured so far. */
  waitFor<T>(select: (frames: CapturedFrame[]) => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return waitUntil(() => select(this.frames()), { timeoutMs, what: `${what} on ${this.where} (capture ${this.file})` });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGINT');
    await exited;
  }
}
