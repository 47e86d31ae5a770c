// Drives Crier's MCP endpoint with an official MCP TypeScript SDK client, unchanged:
//   node client.mjs v1|v2 URL API_KEY CHANNEL_ID
// URL `stdio:/path/to/crier` runs `crier mcp --stdio` with CRIER_API_KEY=API_KEY instead.
// v1 is @modelcontextprotocol/sdk (protocol 2025-11-25), v2 is @modelcontextprotocol/client
// (2026-07-28). Prints one JSON object with what the server answered.
const [flavour, url, key, channel] = process.argv.slice(2);
const sdk =
  flavour === 'v1'
    ? {
        ...(await import('@modelcontextprotocol/sdk/client/index.js')),
        ...(await import('@modelcontextprotocol/sdk/client/streamableHttp.js')),
      }
    : await import('@modelcontextprotocol/client');

let transport;
if (url.startsWith('stdio:')) {
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  transport = new StdioClientTransport({
    command: url.slice('stdio:'.length),
    args: ['mcp', '--stdio'],
    env: { ...process.env, CRIER_API_KEY: key },
    stderr: 'inherit',
  });
} else {
  transport = new sdk.StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
}
// v2 negotiates the 2026-07-28 revision only when asked to ('auto' probes with server/discover).
const options = flavour === 'v2' ? { versionNegotiation: { mode: 'auto' } } : {};
const client = new sdk.Client({ name: 'crier-test-agent', version: '1.0.0' }, options);
await client.connect(transport);

const tools = await client.listTools();
const created = await client.callTool({
  name: 'create_post',
  arguments: { text: `hello from an ${flavour} agent`, targets: [{ channel_id: channel }], idempotency_key: `agent-${flavour}` },
});
const replayed = await client.callTool({
  name: 'create_post',
  arguments: { text: `hello from an ${flavour} agent`, targets: [{ channel_id: channel }], idempotency_key: `agent-${flavour}` },
});
const post = await client.callTool({ name: 'get_post', arguments: { post_id: created.structuredContent?.id ?? '' } });
const invalid = await client.callTool({
  name: 'create_post',
  arguments: { text: 'x'.repeat(600), targets: [{ channel_id: channel }] },
});
const resources = await client.listResources();
const limits = await client.readResource({ uri: resources.resources[0]?.uri ?? '' });
const version = client.getNegotiatedProtocolVersion?.() ?? transport.protocolVersion ?? null;
console.log(
  JSON.stringify({ version, tools: tools.tools, created, replayed, post, invalid, resources: resources.resources, limits }),
);
await client.close();
