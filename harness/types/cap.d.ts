/** The part of the `cap` package (libpcap bindings, CommonJS, no bundled types) the relay uses. */
declare module 'cap' {
  import type { EventEmitter } from 'node:events';

  export class Cap extends EventEmitter {
    /** Opens `device` in promiscuous, immediate mode; packets are copied into `buffer`. Returns the link type ("ETHERNET"). */
    open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
    /** Injects a whole frame. */
    send(buffer: Buffer, length?: number): void;
    close(): void;
    /** 'packet' fires synchronously per packet; the data is `buffer.subarray(0, nbytes)` until the next one. */
    on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): this;
  }

  const cap: { Cap: typeof Cap };
  export default cap;
}
