"""A real IMAP server for the reply-reader tests: Debian's dovecot (package dovecot-imapd),
started by the test as its own process on a free loopback port, with one passwd-file user and
a maildir in a temporary folder. Without `tls` it speaks plain IMAP; with a `TestCertificates`
it offers STARTTLS with a certificate for 127.0.0.1 signed by the test's own authority. Mail
is delivered by IMAP APPEND.

Skips with the reason when dovecot is absent, except under CI=true, where that fails.
Run as root (a container), dovecot's login and mail processes need users other than root:
its own `dovecot`/`dovenull` users and `nobody` for the mail.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.databases import IN_CI

USER, PASSWORD = "replies", "imap-Passw0rd-for-tests"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)


def require_dovecot() -> str:
    if DOVECOT is None:
        reason = "dovecot is not installed (apt-get install dovecot-imapd)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return DOVECOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestCertificates:
    """A throwaway certificate authority and a server certificate for 127.0.0.1, written as PEM
    files into `folder` (made with `cryptography`, a csbot dependency: no openssl command)."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path, name: str = "csbot test authority") -> None:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = dt.datetime.now(dt.UTC)
        ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ca = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        server = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.authority = folder / "authority.pem"
        self.certificate = folder / "server.pem"
        self.key = folder / "server.key"
        self.authority.write_bytes(ca.public_bytes(pem))
        self.certificate.write_bytes(server.public_bytes(pem))
        self.key.write_bytes(server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.key.chmod(0o600)


class DovecotServer:
    def __init__(self, tls: TestCertificates | None = None) -> None:
        self.binary = require_dovecot()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="csbot-dovecot-"))
        self.root.chmod(0o755)
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        as_root = os.geteuid() == 0
        uid, gid = (65534, 65534) if as_root else (os.getuid(), os.getgid())
        for name in ("run", "state", "mail", "home"):
            (self.root / name).mkdir()
        if as_root:
            for name in ("mail", "home"):
                os.chown(self.root / name, uid, gid)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{self.root / 'home'}\n")
        import grp
        import pwd

        me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        internal, internal_group, login = ("dovecot", "dovecot", "dovenull") if as_root else (me, group, me)
        self.tls = tls
        tls_settings = "ssl = no" if tls is None else (
            f"ssl = yes\nssl_cert = <{tls.certificate}\nssl_key = <{tls.key}\n"
            "ssl_dh = </usr/share/dovecot/dh.pem\nssl_min_protocol = TLSv1.2"
        )
        self.config = self.root / "dovecot.conf"
        self.config.write_text(
            f"""base_dir = {self.root / 'run'}
state_dir = {self.root / 'state'}
log_path = {self.log}
info_log_path = {self.log}
protocols = imap
listen = 127.0.0.1
{tls_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {1 if as_root else 0}
mail_location = maildir:{self.root / 'mail'}/%u
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root / 'users'}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root / 'users'}
}}
"""
        )

    def env(self) -> dict[str, str]:
        return {"CSBOT_IMAP_HOST": "127.0.0.1", "CSBOT_IMAP_PORT": str(self.port), "CSBOT_IMAP_USER": USER,
                "CSBOT_IMAP_PASSWORD": PASSWORD, "CSBOT_IMAP_STARTTLS": "false" if self.tls is None else "true"}

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with self.connect():
                    return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {self.log.read_text() if self.log.exists() else ''}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=5)
        if self.tls is not None:
            import ssl

            imap.starttls(ssl.create_default_context(cafile=str(self.tls.authority)))
        imap.login(USER, PASSWORD)
        imap.select("INBOX")
        return imap

    def deliver(self, raw: bytes) -> None:
        with self.connect() as imap:
            status, _ = imap.append("INBOX", None, None, raw)
            assert status == "OK"

    def logins(self) -> list[str]:
        """dovecot's log lines for successful logins (", TLS," in them when secured)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "imap-login:" in line and " Login: " in line]

    def flags(self) -> list[str]:
        """Each mail's flags, in UID order."""
        with self.connect() as imap:
            _, data = imap.uid("FETCH", "1:*", "(FLAGS)")
        return [item.decode() for item in data if isinstance(item, bytes)]
