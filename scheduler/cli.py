"""`flask --app wsgi create-admin EMAIL`: the only way to make an admin. A new account passes
the same checks as one registered through the API.

`flask --app wsgi rotate-secrets`: after a new key became first in SECRET_KEYS, seals what is
stored under older keys again under it, and says which old keys are still needed."""

import click

from . import clock
from .auth import hash_password
from .context import runtime, settings, transaction
from .errors import BadRequest
from .repositories import users
from .sealing import old_key_use, reseal
from .validation import RegisterIn, validate


def register_commands(app):
    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", default="Administrator", help="Name for a new account.")
    @click.password_option(help="Password for a new account (prompted when needed).",
                           prompt_required=False)
    def create_admin(email, name, password):
        """Promotes EMAIL to admin, or creates it as an admin."""
        email = email.strip()
        with transaction() as cur:
            user = users.find_by_email(cur, email)
            if user is not None:
                if password:
                    raise click.UsageError(f"{user['email']} already has an account: run without --password to "
                                           "promote it (its password stays as it is)")
                users.set_role(cur, user["id"], "admin")
                click.echo(f"{user['email']} is now an admin")
                return
            if not password:
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            try:
                account = validate(RegisterIn, {"name": name, "email": email, "password": password})
            except BadRequest as exc:
                raise click.UsageError(exc.message) from None
            users.insert(cur, name=account.name, email=account.email,
                         password_hash=hash_password(account.password, settings().bcrypt_rounds), role="admin")
            click.echo(f"created admin {account.email}")

    @app.cli.command("rotate-secrets")
    def rotate_secrets():
        """Re-seals stored secrets under the first key of SECRET_KEYS; reports what still needs
        an older key. Safe to run at any time, and again."""
        ring = settings().secret_keys
        for what, (resealed, unopenable) in reseal(runtime().db, ring).items():
            click.echo(f"{what}: {resealed} re-sealed under {ring.current_id}"
                       + (f", {unopenable} sealed under a key no longer in SECRET_KEYS (left as they are)"
                          if unopenable else ""))
        with transaction() as cur:
            use = old_key_use(cur, ring, clock.now())
        for key_id, count in sorted(use.items()):
            holder = f"key {key_id}" if key_id else "JWT_SECRET (bookings made before SECRET_KEYS)"
            click.echo(f"{holder}: still makes the manage links of {count} upcoming guest booking(s)")
        retired = [key_id for key_id in ring.ids[1:] if key_id not in use]
        if retired:
            click.echo(f"no longer needed: {', '.join(retired)} (remove from SECRET_KEYS after every process "
                       "runs with the current key first)")
