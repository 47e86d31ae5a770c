// A real Bluesky network for Crier's tests: the PLC directory and a PDS from @atproto/dev-env,
// on free ports of this machine. Needs Node 22 (scripts/atproto.sh installs it in .peers/node22).
//
// Prints exactly one line, `PDS <url>`, to stdout once the network answers, then runs until its
// stdin closes (the parent went away) or it gets SIGTERM/SIGINT, and shuts the network down. Its
// own logs go to stderr (atproto's logs are off unless LOG_ENABLED=true). Its data lives in a
// temporary folder removed on shutdown.

import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

// Keep stdout for the one line the parent reads.
process.env.LOG_DESTINATION ??= '/dev/stderr'
console.log = console.error
console.info = console.error

const log = (msg) => process.stderr.write(`[atproto peer] ${msg}\n`)

// Imported after the environment above is set: atproto's logger reads it at load time.
const { TestNetworkNoAppView } = await import('@atproto/dev-env')

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'crier-atproto-'))
await fs.mkdir(path.join(dir, 'pds'))
const started = Date.now()
let net
try {
  net = await TestNetworkNoAppView.create({
    pds: {
      dataDirectory: path.join(dir, 'pds'),
      blobstoreDiskLocation: path.join(dir, 'blobs'),
    },
  })
} catch (err) {
  log(`could not start the network: ${err?.stack ?? err}`)
  await fs.rm(dir, { recursive: true, force: true })
  process.exit(1)
}

let stopping = null
// Ready means the PDS answers XRPC, not just that it listens.
try {
  const health = await fetch(`${net.pds.url}/xrpc/com.atproto.server.describeServer`)
  if (!health.ok) throw new Error(`describeServer answered ${health.status}`)
} catch (err) {
  log(`the PDS at ${net.pds.url} does not answer: ${err?.message ?? err}`)
  await shutdown(1)
}
log(`PLC ${net.plc.url}, PDS ${net.pds.url} up in ${Date.now() - started} ms`)
process.stdout.write(`PDS ${net.pds.url}\n`)

async function shutdown(code = 0) {
  if (stopping) return stopping
  stopping = (async () => {
    try {
      await net.close()
    } catch (err) {
      log(`closing the network: ${err?.stack ?? err}`)
      code ||= 1
    }
    await fs.rm(dir, { recursive: true, force: true })
    process.exit(code)
  })()
  return stopping
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => shutdown(0))
// The parent holds our stdin open; when it exits (however it exits), stdin ends.
process.stdin.on('end', () => shutdown(0))
process.stdin.on('error', () => shutdown(0))
process.stdin.resume()
