/** A FrameLink for unit tests: records every frame sent, delivers injected frames to the handler. */
import type { FrameLink } from '../link.ts';
import { decodeFrame, type DecodedFrame } from '../../packet/frame.ts';

export class FakeLink implements FrameLink {
  readonly sent: Buffer[] = [];
  closed = false;
  private handler: ((frame: Buffer) => void) | undefined;

  constructor(readonly name = 'vnet0') {}

  send(frame: Buffer): void {
    this.sent.push(frame);
  }

  onFrame(handler: (frame: Buffer) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.closed = true;
  }

  deliver(frame: Buffer): void {
    this.handler?.(frame);
  }

  /** The frames sent so far, decoded, and forgets them. */
  take(): DecodedFrame[] {
    return this.sent.splice(0).map((f) => decodeFrame(f));
  }
}
