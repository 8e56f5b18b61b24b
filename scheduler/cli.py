"""`flask --app wsgi create-admin EMAIL`: the only way to make an admin. A new account passes
the same checks as one registered through the API."""

import click

from .auth import hash_password
from .context import settings, transaction
from .errors import BadRequest
from .repositories import users
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
