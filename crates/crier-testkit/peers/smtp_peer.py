"""An SMTP server for Crier's tests, built on aiosmtpd (PyPI; `scripts/test` installs it).

Listens on 127.0.0.1 on a free port and prints `PORT <n>` once it does. Two modes:
  default         plain SMTP that requires STARTTLS before anything but EHLO/NOOP/QUIT, and AUTH
                  (PLAIN or LOGIN), which is only offered once TLS is up;
  --implicit-tls  SMTPS: TLS from the first byte, then AUTH required.

The username and password come from the environment (CRIER_SMTP_PEER_USERNAME,
CRIER_SMTP_PEER_PASSWORD). Every accepted message is written to --out as `<n>.eml` (the raw
DATA, dot-unstuffed, CRLF line ends) and then `<n>.json` (`mail_from`, `rcpt_tos`, `auth_login`,
`tls`); a message is complete once its `.json` exists (both are renamed into place).
"""

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd 1.4 logs a warning about its own deprecated `Session.login_data` on every AUTH.
logging.getLogger("mail.log").setLevel(logging.ERROR)

USERNAME = os.environ["CRIER_SMTP_PEER_USERNAME"]
PASSWORD = os.environ["CRIER_SMTP_PEER_PASSWORD"]


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Handler:
    def __init__(self, out, implicit_tls):
        self.out = out
        self.implicit_tls = implicit_tls
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.out, f"{self.count:06d}")
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        write_atomically(base + ".eml", raw)
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "auth_login": login.decode() if login is not None else None,
            "tls": self.implicit_tls or session.ssl is not None,
        }
        write_atomically(base + ".json", json.dumps(meta).encode())
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    handler = Handler(args.out, args.implicit_tls)

    if args.implicit_tls:
        # aiosmtpd warns that AUTH does not require (STARTTLS) TLS: here all of it is TLS.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

    def factory():
        if args.implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS for `auth_require_tls`, so on a connection
            # that is TLS from the start that check is off (the whole session is encrypted).
            return SMTP(
                handler,
                hostname="localhost",
                authenticator=authenticator,
                auth_required=True,
                auth_require_tls=False,
            )
        return SMTP(
            handler,
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=True,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, host="127.0.0.1", port=0, ssl=context if args.implicit_tls else None
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
