/**
 * DHCP Unique Identifiers (RFC 8415 §11; DUID-UUID from RFC 6355). A DUID is opaque to the
 * server, so every type round-trips byte for byte; unknown types are kept raw.
 */
import { DecodeError } from './errors.ts';
import { layout, Struct } from './struct.ts';
import { hexColon, hexColonToBytes } from '../addr/bytes.ts';

export const DUID_TYPE_NUMBERS = { llt: 1, en: 2, ll: 3, uuid: 4 } as const;

export type Duid =
  | { type: 'llt'; hardwareType: number; time: number; linkLayerAddress: string }
  | { type: 'en'; enterpriseNumber: number; identifier: Buffer }
  | { type: 'll'; hardwareType: number; linkLayerAddress: string }
  /** 8-4-4-4-12 lower-case hex. */
  | { type: 'uuid'; uuid: string }
  | { type: 'unknown'; duidType: number; data: Buffer };

const LAYER = 'dhcpv6';
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_BYTES = 16;

/** The fixed layouts, named after the field holding the DUID ("client-id.duid") so errors say whose DUID broke. */
function layoutsFor(field: string) {
  return {
    type: new Struct<{ duidType: number }>(LAYER, `${field}.type`, layout().uint16('duidType')),
    llt: new Struct<{ hardwareType: number; time: number }>(LAYER, `${field}.llt`, layout().uint16('hardwareType').uint32('time')),
    en: new Struct<{ enterpriseNumber: number }>(LAYER, `${field}.en`, layout().uint32('enterpriseNumber')),
    ll: new Struct<{ hardwareType: number }>(LAYER, `${field}.ll`, layout().uint16('hardwareType')),
  };
}
// binary-parser compiles each layout on first use, so build them once per field name.
const layoutCache = new Map<string, ReturnType<typeof layoutsFor>>();
function layouts(field: string): ReturnType<typeof layoutsFor> {
  let found = layoutCache.get(field);
  if (!found) layoutCache.set(field, (found = layoutsFor(field)));
  return found;
}

function header(duidType: number, fixedSize: number): Buffer {
  const buf = Buffer.alloc(2 + fixedSize);
  buf.writeUInt16BE(duidType, 0);
  return buf;
}

export function encodeDuid(duid: Duid): Buffer {
  switch (duid.type) {
    case 'llt': {
      const head = header(DUID_TYPE_NUMBERS.llt, 6);
      head.writeUInt16BE(duid.hardwareType, 2);
      head.writeUInt32BE(duid.time, 4);
      return Buffer.concat([head, hexColonToBytes(duid.linkLayerAddress)]);
    }
    case 'en': {
      const head = header(DUID_TYPE_NUMBERS.en, 4);
      head.writeUInt32BE(duid.enterpriseNumber, 2);
      return Buffer.concat([head, duid.identifier]);
    }
    case 'll': {
      const head = header(DUID_TYPE_NUMBERS.ll, 2);
      head.writeUInt16BE(duid.hardwareType, 2);
      return Buffer.concat([head, hexColonToBytes(duid.linkLayerAddress)]);
    }
    case 'uuid': {
      if (!UUID_TEXT.test(duid.uuid)) throw new Error(`not an 8-4-4-4-12 UUID: '${duid.uuid}'`);
      return Buffer.concat([header(DUID_TYPE_NUMBERS.uuid, 0), Buffer.from(duid.uuid.replaceAll('-', ''), 'hex')]);
    }
    case 'unknown': {
      // A known type code here would decode as that type, breaking the round trip.
      if (Object.values(DUID_TYPE_NUMBERS).includes(duid.duidType as never)) {
        throw new Error(`unknown DUID with known type code ${duid.duidType}`);
      }
      return Buffer.concat([header(duid.duidType, 0), duid.data]);
    }
  }
}

/**
 * Decodes a whole DUID (`buf` is exactly its bytes). `base` is the absolute offset of buf[0];
 * `field` names the enclosing option in errors (e.g. "client-id.duid").
 */
export function decodeDuid(buf: Buffer, base = 0, field = 'duid'): Duid {
  const structs = layouts(field);
  const { duidType } = structs.type.read(buf, 0, base);
  const rest = (from: number) => Buffer.from(buf.subarray(from));
  switch (duidType) {
    case DUID_TYPE_NUMBERS.llt: {
      const { hardwareType, time } = structs.llt.read(buf, 2, base);
      return { type: 'llt', hardwareType, time, linkLayerAddress: hexColon(buf.subarray(8)) };
    }
    case DUID_TYPE_NUMBERS.en: {
      const { enterpriseNumber } = structs.en.read(buf, 2, base);
      return { type: 'en', enterpriseNumber, identifier: rest(6) };
    }
    case DUID_TYPE_NUMBERS.ll: {
      const { hardwareType } = structs.ll.read(buf, 2, base);
      return { type: 'll', hardwareType, linkLayerAddress: hexColon(buf.subarray(4)) };
    }
    case DUID_TYPE_NUMBERS.uuid: {
      if (buf.length !== 2 + UUID_BYTES) {
        throw new DecodeError(LAYER, `${field}.uuid`, base + 2, `needs exactly ${UUID_BYTES} bytes, has ${buf.length - 2}`);
      }
      const hex = buf.toString('hex', 2);
      const uuid = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
      return { type: 'uuid', uuid };
    }
    default:
      return { type: 'unknown', duidType, data: rest(2) };
  }
}
