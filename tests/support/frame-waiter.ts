/**
 * Collects the frames a port delivers and waits (bounded, event-driven) for one matching a
 * predicate — the tests' way to say "the kernel answered with X through this port".
 */
import { waitUntil } from '../../harness/os/wait.ts';
import { describeFrame, frameLine } from '../../harness/packet/describe.ts';
import { decodeFrame, type DecodedFrame } from '../../harness/packet/frame.ts';
import type { FramePort } from '../../harness/io/frame-port.ts';

export class FrameWaiter {
  readonly frames: Buffer[] = [];

  constructor(port: FramePort) {
    port.onFrames((batch) => this.frames.push(...batch));
  }

  /** Waits for a received frame (decoded) that `match` accepts, taking it off the list. */
  async next(match: (f: DecodedFrame) => boolean, what: string, timeoutMs = 10_000): Promise<DecodedFrame> {
    return waitUntil(
      () => {
        for (let i = 0; i < this.frames.length; i++) {
          const f = tryDecode(this.frames[i]!);
          if (f && match(f)) {
            this.frames.splice(i, 1);
            return f;
          }
        }
        return undefined;
      },
      { timeoutMs, what: () => `${what} (${this.frames.length} other frames kept${this.frames.length ? `, last: ${this.#lastLines(3)}` : ''})`, intervalMs: 5 },
    );
  }

  #lastLines(n: number): string {
    return this.frames
      .slice(-n)
      .map((buf) => {
        const f = tryDecode(buf);
        return f ? frameLine(describeFrame(f, { index: 0, length: buf.length })) : `undecodable ${buf.length} bytes`;
      })
      .join(' ;; ');
  }
}

function tryDecode(buf: Buffer): DecodedFrame | undefined {
  try {
    return decodeFrame(buf);
  } catch {
    return undefined;
  }
}
