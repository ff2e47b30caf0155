"""`espalier mdmcerts`: make the MDM vendor and APNs push certificate requests in a directory.

    espalier mdmcerts -d DIR init          -> vendor.key, vendor.csr
    (portal: vendor.csr -> vendor.crt, saved in DIR)
    espalier mdmcerts -d DIR req DE        -> push.key, push.csr, push.b64

Every failure is one line on stderr and exit status 2, and leaves DIR as it was.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO, Callable

import click

from espalier.pki.push_request import (PushRequestError, fetch_apple_chain, make_push_request,
                                       make_vendor_request, normalize_country_code)

_DIR_KEY = "espalier.mdmcerts.directory"


class MdmcertsError(click.ClickException):
    """One line on stderr ("Error: ..."), exit status 2."""

    exit_code = 2


@click.group("mdmcerts")
@click.option("-d", "--directory", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Working directory holding the vendor and push files.")
@click.pass_context
def mdmcerts(ctx: click.Context, directory: Path) -> None:
    """Create MDM vendor and APNs push certificate requests."""
    ctx.meta[_DIR_KEY] = directory


@mdmcerts.command("init")
@click.option("--password-file", type=click.File("rb"), help="Read the vendor key password from FILE.")
@click.pass_context
def init(ctx: click.Context, password_file: BinaryIO | None) -> None:
    """Write vendor.key and vendor.csr for the Apple Developer portal."""
    directory: Path = ctx.meta[_DIR_KEY]
    _refuse_existing(directory, "vendor.key", "vendor.csr")
    password = _password(password_file, "Vendor key password", confirm=True, flag="--password-file")
    key_pem, csr_pem = _call(make_vendor_request, password)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise MdmcertsError(f"cannot create {directory}: {exc.strerror}") from None
    _write_all(directory, {"vendor.key": key_pem, "vendor.csr": csr_pem})
    click.echo(f"Wrote {directory / 'vendor.key'} and {directory / 'vendor.csr'}.\n"
               "Next: in the Apple Developer portal, create an MDM CSR certificate from vendor.csr,\n"
               f"download it and save it as {directory / 'vendor.crt'}, then run `mdmcerts req COUNTRYCODE`.\n"
               "Keep the vendor key password: `req` asks for it.")


@mdmcerts.command("req")
@click.argument("country_code", metavar="COUNTRYCODE")
@click.option("--push-password-file", type=click.File("rb"), help="Read the new push key password from FILE.")
@click.option("--vendor-password-file", type=click.File("rb"), help="Read the vendor key password from FILE.")
@click.option("--apple-chain", type=click.File("rb"),
              help="PEM file with Apple's WWDR intermediate and root (default: download from apple.com).")
@click.pass_context
def req(ctx: click.Context, country_code: str, push_password_file: BinaryIO | None,
        vendor_password_file: BinaryIO | None, apple_chain: BinaryIO | None) -> None:
    """Write push.key, push.csr and push.b64 signed with the vendor certificate."""
    directory: Path = ctx.meta[_DIR_KEY]
    country = _call(normalize_country_code, country_code)
    _refuse_existing(directory, "push.key", "push.csr", "push.b64")
    vendor_cert = _read(directory / "vendor.crt", "save the certificate from the portal there")
    vendor_key = _read(directory / "vendor.key", "run `mdmcerts init` first")
    push_password = _password(push_password_file, "Push key password", confirm=True, flag="--push-password-file")
    vendor_password = _password(vendor_password_file, "Vendor key password", confirm=False,
                                flag="--vendor-password-file")
    chain = apple_chain.read() if apple_chain else _call(fetch_apple_chain)
    key_pem, csr_pem, push_b64 = _call(make_push_request, vendor_cert, vendor_key, vendor_password,
                                       push_password, chain, country)
    _write_all(directory, {"push.key": key_pem, "push.csr": csr_pem, "push.b64": push_b64})
    click.echo(f"Wrote push.key, push.csr and push.b64 in {directory}.\n"
               "Next: sign in at https://identity.apple.com/pushcert and upload push.b64.\n"
               "To keep the same topic, RENEW the existing certificate rather than creating a new one:\n"
               "a new certificate means a new topic, and every device must enroll again.\n"
               "Then upload the downloaded certificate with push.key and its password to Espalier.")


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except PushRequestError as exc:
        raise MdmcertsError(str(exc)) from None


def _refuse_existing(directory: Path, *names: str) -> None:
    existing = [n for n in names if (directory / n).exists()]
    if existing:
        raise MdmcertsError(f"{', '.join(existing)} already in {directory}; refusing to overwrite")


def _read(path: Path, hint: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MdmcertsError(f"{path} not found: {hint}") from None
    except OSError as exc:
        raise MdmcertsError(f"cannot read {path}: {exc.strerror}") from None


def _password(source: BinaryIO | None, prompt: str, confirm: bool, flag: str) -> bytes:
    if source is not None:
        password = source.read().rstrip(b"\r\n")
    else:
        try:
            password = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm).encode()
        except click.Abort:  # no terminal (or input ended): say how to do without one
            raise MdmcertsError(f"no terminal to ask for the {prompt.lower()}: put it in a file (mode 0600) "
                                f"and pass {flag} FILE") from None
    if not password:
        raise MdmcertsError(f"{prompt.lower()} must not be empty")
    return password


def _write_all(directory: Path, files: dict[str, bytes]) -> None:
    """Write every file under a temporary name, then link them all in place, or none.

    os.link refuses to replace an existing file, so a file that appeared since
    the first check is never overwritten; keys are created 0600.
    """
    tag = secrets.token_hex(4)
    temps: dict[str, Path] = {}
    linked: list[Path] = []
    try:
        for name, data in files.items():
            temps[name] = directory / f".{name}.{tag}.tmp"
            mode = 0o600 if name.endswith(".key") else 0o644
            fd = os.open(temps[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        for name, temp in temps.items():
            os.link(temp, directory / name)
            linked.append(directory / name)
    except OSError as exc:
        for path in linked:
            path.unlink(missing_ok=True)
        raise MdmcertsError(f"cannot write {exc.filename or directory}: {exc.strerror}") from None
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
