//! The official MCP TypeScript SDK clients as test peers (`peers/mcp`, installed by
//! `scripts/test` with `npm ci`).

use std::process::Command;

/// Which SDK drives the server: v1 (`@modelcontextprotocol/sdk`, protocol 2025-11-25) or v2
/// (`@modelcontextprotocol/client`, 2026-07-28).
#[derive(Debug, Clone, Copy)]
pub enum Sdk {
    V1,
    V2,
}

/// Runs `peers/mcp/client.mjs` against `url` and returns what it printed (one JSON object).
pub fn run_client(sdk: Sdk, url: &str, key: &str, channel: &str) -> serde_json::Value {
    try_client(sdk, url, key, channel, &[]).unwrap_or_else(|failure| panic!("{failure}"))
}

/// Like `run_client`, with extra environment for the client (and a `stdio:` server it starts),
/// returning the client's failure instead of panicking.
pub fn try_client(
    sdk: Sdk,
    url: &str,
    key: &str,
    channel: &str,
    env: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/mcp");
    let flavour = match sdk {
        Sdk::V1 => "v1",
        Sdk::V2 => "v2",
    };
    let output = Command::new("node")
        .current_dir(dir)
        .args(["client.mjs", flavour, url, key, channel])
        .envs(env.iter().copied())
        .output()
        .expect("node runs the MCP client (scripts/test installs it: npm ci in peers/mcp)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the MCP {flavour} client failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_str(stdout.trim()).map_err(|err| format!("the client printed {stdout:?}: {err}"))
}

/// Runs `peers/mcp/oauth_client.mjs`: the v1 SDK's own OAuth flow against `url`, with a script
/// playing the user who signs in as `email` and approves. Returns what it printed.
pub fn run_oauth_client(url: &str, email: &str, password: &str, channel: &str) -> serde_json::Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/mcp");
    let output = Command::new("node")
        .current_dir(dir)
        .args(["oauth_client.mjs", url, email, password, channel])
        .output()
        .expect("node runs the MCP OAuth client (scripts/test installs it: npm ci in peers/mcp)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let printed: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("the OAuth client printed {stdout:?}: {err}"));
    assert!(
        output.status.success(),
        "the MCP OAuth client failed: {printed:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}
