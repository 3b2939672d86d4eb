/**
 * The shape of a pod file (JSON Schema for ajv). Static defaults live here so the schema documents them;
 * defaults derived from other fields (instance prefix counts, generated MACs) and every rule that
 * relates fields to each other live in pod-file.ts. `description` of a pattern is the error text.
 */
const name = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9-]*$',
  description: "must be lower-case letters, digits and '-' (not leading)",
};
const mac = {
  type: 'string',
  pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$',
  description: 'must be a MAC like 06:7a:88:00:00:8b',
};
const groupName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', description: "must be letters, digits, '_', '.' and '-'" };
const prefix = { type: 'string', description: 'an IPv6 prefix, address/length' };
const count = { type: 'integer', minimum: 0 };

function node(defaultName: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: { name: { ...name, default: defaultName }, ...extra },
    default: {},
  };
}

export const podSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'pod', 'hypervisors'],
  properties: {
    name,
    pod: {
      type: 'object',
      additionalProperties: false,
      required: ['l2Prefix', 'pdPool'],
      properties: {
        l2Prefix: prefix,
        pdPool: prefix,
        delegatedLength: { type: 'integer', default: 60 },
        prefixesPerInstance: { ...count, default: 1 },
        dad: { enum: ['optimistic', 'full'], default: 'optimistic' },
        // MLD snooping on the pod's switches, the ToR bridge as MLD querier (docs/facts.md: measured at 1,000 and 5,000 instances).
        mldSnooping: { type: 'boolean', default: false },
      },
    },
    routers: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', additionalProperties: false, required: ['name'], properties: { name, mac } },
      default: [{ name: 'r1' }, { name: 'r2' }],
    },
    core: node('core'),
    kea: node('kea', {
      backend: { enum: ['config', 'postgresql'], default: 'config' },
      dynamicPool: { type: 'boolean', default: false },
      // T1 and T2 Kea puts in every IA_PD (seconds): short ones make real guests Renew and Rebind within a scenario.
      renewTimer: { type: 'integer', minimum: 1, default: 1000 },
      rebindTimer: { type: 'integer', minimum: 1, default: 2000 },
      // Where Kea learns a client's MAC, in order (Kea's mac-sources): the relay's option 37 (remote-id),
      // RFC 6939 option 79 (client-link-addr-option), the EUI-64 link-local (ipv6-link-local), the DUID.
      macSources: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: { enum: ['remote-id', 'client-link-addr-option', 'ipv6-link-local', 'duid'] },
        default: ['remote-id'],
      },
      // A PostgreSQL server the user names for the postgresql backend (default: a private cluster per run).
      database: {
        type: 'object',
        additionalProperties: false,
        required: ['host', 'user', 'name'],
        properties: {
          host: { type: 'string', minLength: 1, description: 'a hostname, or a unix socket directory starting with /' },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          user: { type: 'string', minLength: 1 },
          name: { type: 'string', minLength: 1 },
          password: { type: 'string' },
        },
      },
    }),
    tor: node('tor'),
    hypervisors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name,
          instances: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                name,
                mac,
                prefixes: count,
                securityGroup: groupName,
                // namespace: a network namespace with the kernel's own stack (the ground truth);
                // synthetic: a TAP on the bridge served by an emulated stack (harness/synth/), for scale.
                kind: { enum: ['namespace', 'synthetic'], default: 'namespace' },
                // Synthetic only: the instance runs its DHCPv6 PD client from boot (default true).
                dhcp: { type: 'boolean' },
                // The guest's DHCPv6 client, started by `up` once its link-local is usable (netns/guest-clients.ts);
                // default: none for a namespace instance (scenarios run their own), synthetic for a synthetic one.
                client: { enum: ['dhcp6c', 'dhcpcd', 'dhclient', 'networkd', 'dibbler', 'synthetic', 'none'] },
                // How the guest's kernel forms its addresses (addr_gen_mode, use_tempaddr): CloudStack computes eui64.
                addressing: { enum: ['eui64', 'stable-privacy', 'temporary'], default: 'eui64' },
                // This entry stands for `count` instances named <name>-1 … <name>-<count>; a declared
                // MAC is the first one's, the next ones count up from it.
                count: { type: 'integer', minimum: 1, maximum: 10000 },
              },
            },
            default: [],
          },
        },
      },
    },
    securityGroups: {
      type: 'object',
      propertyNames: groupName,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          rules: {
            type: 'array',
            // CloudStack's rule text: direction:protocol;start;end;cidr[,cidr…] (ports, or ICMP type;code).
            items: {
              type: 'string',
              pattern: '^[IE]:(tcp|udp|icmp|icmpv6|all|[0-9]{1,3});-?[0-9]{1,5};-?[0-9]{1,5};[^;,\\s]+(,[^;,\\s]+)*$',
              description: 'must be a rule like I:tcp;22;22;::/0 (direction:protocol;start;end;cidr[,cidr])',
            },
            default: [],
          },
        },
        default: {},
      },
      default: {},
    },
    // The routers' DHCPv6 relay (docs/relays.md): v6pod's own, Debian's ISC dhcrelay -6, or the user's command (relayCommand).
    relay: { enum: ['v6pod', 'isc-dhcrelay', 'external'], default: 'v6pod' },
    // relay: external only — the command run on each router under the contract of docs/relays.md.
    relayCommand: { type: 'string', minLength: 1 },
  },
} as const;
